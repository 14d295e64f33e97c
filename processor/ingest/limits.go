package ingest

import (
	"unicode/utf8"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/reply"
)

// checkLimits enforces the length and range limits of
// schemas/attempt.schema.json on a decoded attempt. TestTypedMatchesSchema
// keeps the two in step: change one, change both.
func checkLimits(a *event.Attempt) error {
	for _, f := range []struct {
		name string
		v    string
		max  int
	}{
		{"event_id", a.EventID, 256},
		{"recipient", a.Recipient, 320},
		{"source.kind", a.Source.Kind, 64},
		{"source.host", a.Source.Host, 255},
		{"sender", a.Sender, 320},
		{"message_id", a.MessageID, 998},
		{"queue_id", a.QueueID, 256},
		{"campaign_id", a.CampaignID, 256},
		{"tenant", a.Tenant, 256},
		{"sending_ip", a.SendingIP, 64},
		{"pool", a.Pool, 256},
		{"smtp.enhanced", a.SMTP.Enhanced, 16},
		{"smtp.text", a.SMTP.Text, 65536},
		{"smtp.command", a.SMTP.Command, 64},
		{"smtp.remote_host", a.SMTP.RemoteHost, 255},
		{"smtp.remote_ip", a.SMTP.RemoteIP, 64},
		{"diagnostic", a.Diagnostic, 65536},
	} {
		// The schema counts characters; bytes bound them from above, so
		// only long strings need counting.
		if len(f.v) > f.max && utf8.RuneCountInString(f.v) > f.max {
			return refuse(ReasonSchema, "/%s: longer than %d characters", f.name, f.max)
		}
	}
	// The identity fields are stored, shown in the dashboard and CLI, and
	// used as keys and labels: unlike the reply text (which reply.Clean
	// masks, as Postfix does) they cannot be rewritten without becoming
	// another id, so a control character or a terminal escape in one is
	// refused. Tab is allowed: some MTAs log it in ids.
	for _, f := range []struct{ name, v string }{
		{"sender", a.Sender},
		{"message_id", a.MessageID},
		{"queue_id", a.QueueID},
		{"campaign_id", a.CampaignID},
		{"tenant", a.Tenant},
		{"source.host", a.Source.Host},
		{"pool", a.Pool},
		{"sending_ip", a.SendingIP},
	} {
		if r, ok := controlIn(f.v); ok {
			return refuse(ReasonSchema, "/%s: holds the control character %U (%q); want printable text", f.name, r, clip(f.v))
		}
	}
	if n := utf8.RuneCountInString(a.Recipient); n < 3 {
		return refuse(ReasonSchema, "/recipient: shorter than 3 characters")
	}
	if sc := a.SourceClassification; sc != nil {
		if utf8.RuneCountInString(sc.Scheme) > 64 || utf8.RuneCountInString(sc.Value) > 256 {
			return refuse(ReasonSchema, "/source_classification: scheme or value too long")
		}
	}
	if a.Attempt < 0 || a.Attempt > 100000 {
		return refuse(ReasonSchema, "/attempt: %d is outside 0..100000", a.Attempt)
	}
	if a.SMTP.Code < 0 || a.SMTP.Code > 599 {
		return refuse(ReasonSchema, "/smtp/code: %d is outside 0..599", a.SMTP.Code)
	}
	if e := a.SMTP.Enhanced; e != "" && !reply.ValidEnhanced(e) {
		// Length alone let "9.9.9.9.9" through, and rules and reports
		// would have read it as a code.
		return refuse(ReasonSchema, "/smtp/enhanced: %q is not an RFC 3463 enhanced status code; want class.subject.detail with class 2, 4 or 5 and subject and detail of 1 to 3 digits, such as 5.1.1", clip(e))
	}
	if a.DelaySeconds < 0 {
		return refuse(ReasonSchema, "/delay_seconds: negative")
	}
	if len(a.Metadata) > 64 {
		return refuse(ReasonSchema, "/metadata: %d entries, at most 64", len(a.Metadata))
	}
	for k, v := range a.Metadata {
		if utf8.RuneCountInString(v) > 4096 {
			return refuse(ReasonSchema, "/metadata/%s: longer than 4096 characters", clip(k))
		}
		if r, ok := controlIn(v); ok {
			return refuse(ReasonSchema, "/metadata/%s: holds the control character %U (%q); want printable text", clip(k), r, clip(v))
		}
	}
	return nil
}

// controlIn returns the first control character in s other than tab: C0,
// DEL, or C1 (U+0080..U+009F, written in UTF-8 as 0xC2 0x80..0x9F). Bytes
// that are not UTF-8 are not its business.
func controlIn(s string) (rune, bool) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 && c != '\t', c == 0x7f:
			return rune(c), true
		case c == 0xc2 && i+1 < len(s) && s[i+1] >= 0x80 && s[i+1] <= 0x9f:
			return rune(s[i+1]), true
		}
	}
	return 0, false
}
