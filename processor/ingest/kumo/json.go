package kumo

import (
	"encoding/json"

	"github.com/bounced-dev/bounced/processor/ingest/raw"
)

// A record is read with raw.JSON, in one pass and without reflection, into
// the struct json.Decoder filled before (with UseNumber), under the same
// rules: keys match exactly or without regard to case, null leaves a field
// as it was; after the record, what follows may not start another value.
// FuzzKumoDecodeJSON holds it to that. Decode reads strictly where
// json.Decoder guesses: see readRecord.

// readRecord reads one record strictly, or returns an ErrUnparsable
// *raw.Error: besides what json.Decoder refuses, a key repeated in any
// object read (json.Decoder keeps the last value) and a kept string that
// is not valid UTF-8 or holds a lone surrogate escape (json.Decoder reads
// U+FFFD into it), wrapping a *raw.JSONStrictError that names the key.
func readRecord(b []byte, rec *record) error { return readRecordAs(b, rec, true) }

// readRecordAs is readRecord, strict or not: without strict it reads what
// json.Decoder reads, to the letter, which is how the tests hold the reader
// to encoding/json.
func readRecordAs(b []byte, rec *record, strict bool) error {
	var r raw.JSON
	r.Reset(b)
	if strict {
		r.Strict()
	}
	readRecordFields(&r, rec)
	more, err := r.FinishStream()
	if err != nil {
		return raw.Errorf(ErrUnparsable, "%w", err)
	}
	if more {
		return raw.Errorf(ErrUnparsable, "more than one JSON value")
	}
	return nil
}

var recordFields = raw.NewFields("type", "id", "sender", "recipient", "queue", "response", "peer_address",
	"timestamp", "event_time", "created", "created_time", "num_attempts", "bounce_classification",
	"egress_pool", "egress_source", "source_address", "feedback_report", "meta", "headers", "nodeid")

func readRecordFields(r *raw.JSON, rec *record) {
	var seen raw.Keys
	for more := r.Object(); more; more = r.More() {
		switch r.Field(recordFields, &seen) {
		case 0:
			r.String(&rec.Type)
		case 1:
			r.String(&rec.ID)
		case 2:
			r.String(&rec.Sender)
		case 3:
			if v := r.Raw(); v != nil {
				rec.Recipient = v
			}
		case 4:
			r.String(&rec.Queue)
		case 5:
			readResponse(r, &rec.Response)
		case 6:
			if r.Null() {
				rec.PeerAddress = nil
				break
			}
			if rec.PeerAddress == nil {
				rec.PeerAddress = new(peer)
			}
			readPeer(r, rec.PeerAddress)
		case 7:
			r.Number((*string)(&rec.Timestamp))
		case 8:
			r.String(&rec.EventTime)
		case 9:
			r.Number((*string)(&rec.Created))
		case 10:
			r.String(&rec.CreatedTime)
		case 11:
			r.Int(&rec.NumAttempts)
		case 12:
			r.String(&rec.BounceClassification)
		case 13:
			r.String(&rec.EgressPool)
		case 14:
			r.String(&rec.EgressSource)
		case 15:
			if r.Null() {
				rec.SourceAddress = nil
				break
			}
			if rec.SourceAddress == nil {
				rec.SourceAddress = new(sourceAddress)
			}
			var seen raw.Keys
			for more := r.Object(); more; more = r.More() {
				if r.Field(addressField, &seen) == 0 {
					r.String(&rec.SourceAddress.Address)
				} else {
					r.Skip()
				}
			}
		case 16:
			if v := r.Raw(); v != nil {
				rec.FeedbackReport = v
			}
		case 17:
			readAnyMap(r, &rec.Meta, number)
		case 18:
			readAnyMap(r, &rec.Headers, number)
		case 19:
			r.String(&rec.NodeID)
		default:
			r.Skip()
		}
	}
}

// number makes a json.Number, as a decoder with UseNumber does.
func number(s string) any { return json.Number(s) }

var (
	addressField   = raw.NewFields("address")
	responseFields = raw.NewFields("code", "enhanced_code", "content", "command")
	enhancedFields = raw.NewFields("class", "subject", "detail")
	peerFields     = raw.NewFields("name", "addr")
)

func readResponse(r *raw.JSON, resp *response) {
	var seen raw.Keys
	for more := r.Object(); more; more = r.More() {
		switch r.Field(responseFields, &seen) {
		case 0:
			r.Int(&resp.Code)
		case 1:
			if r.Null() {
				resp.EnhancedCode = nil
				break
			}
			if resp.EnhancedCode == nil {
				resp.EnhancedCode = new(enhancedCode)
			}
			readEnhanced(r, resp.EnhancedCode)
		case 2:
			r.String(&resp.Content)
		case 3:
			r.String(&resp.Command)
		default:
			r.Skip()
		}
	}
}

func readEnhanced(r *raw.JSON, ec *enhancedCode) {
	var seen raw.Keys
	for more := r.Object(); more; more = r.More() {
		switch r.Field(enhancedFields, &seen) {
		case 0:
			r.Int(&ec.Class)
		case 1:
			r.Int(&ec.Subject)
		case 2:
			r.Int(&ec.Detail)
		default:
			r.Skip()
		}
	}
}

func readPeer(r *raw.JSON, p *peer) {
	var seen raw.Keys
	for more := r.Object(); more; more = r.More() {
		switch r.Field(peerFields, &seen) {
		case 0:
			r.String(&p.Name)
		case 1:
			r.String(&p.Addr)
		default:
			r.Skip()
		}
	}
}

// readAnyMap reads an object into a map[string]any as encoding/json does:
// null clears the map, an object adds its members (making the map when
// nil). num makes numbers (nil: float64).
func readAnyMap(r *raw.JSON, m *map[string]any, num func(string) any) {
	switch r.Peek() {
	case 'n':
		r.Skip()
		*m = nil
		return
	case '{':
	default:
		r.Mismatch("map[string]any")
		return
	}
	if *m == nil {
		*m = map[string]any{}
	}
	for more := r.Object(); more; more = r.More() {
		k := string(r.Key())
		if _, dup := (*m)[k]; dup {
			r.Duplicate() // a strict reader refuses it; a repeated map in one is refused before
		}
		(*m)[k] = r.Any(num)
	}
}

var feedbackFields = raw.NewFields("feedback_type", "original_rcpt_to", "original_mail_from", "supplemental_trace")

// readFeedbackReport reads a feedback_report as json.Unmarshal did
// (numbers as float64), strictly: see readRecord.
func readFeedbackReport(b []byte, fr *feedbackReport) error {
	return readFeedbackReportAs(b, fr, true)
}

// readFeedbackReportAs is readFeedbackReport, strict (as readRecord) or
// not (as json.Unmarshal).
func readFeedbackReportAs(b []byte, fr *feedbackReport, strict bool) error {
	var r raw.JSON
	r.Reset(b)
	if strict {
		r.Strict()
	}
	var seen raw.Keys
	for more := r.Object(); more; more = r.More() {
		switch r.Field(feedbackFields, &seen) {
		case 0:
			r.String(&fr.FeedbackType)
		case 1:
			fr.OriginalRcptTo = r.Any(nil)
		case 2:
			fr.OriginalMailFrom = r.Any(nil)
		case 3:
			readAnyMap(&r, &fr.SupplementalTrace, nil)
		default:
			r.Skip()
		}
	}
	return r.Finish()
}
