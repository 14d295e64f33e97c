package classify_test

import (
	"testing"

	"github.com/bounced-dev/bounced/processor/classify"
	"github.com/bounced-dev/bounced/processor/event"
)

func TestCrosswalk(t *testing.T) {
	for _, tc := range []struct {
		scheme, value string
		class         event.Class
		label         event.Label
		ok            bool
	}{
		{"pmta_bounceCat", "bad-mailbox", event.ClassHard, event.MailboxUnknown, true},
		{"pmta_bounceCat", "quota-issues", event.ClassSoft, event.MailboxFull, true},
		{"pmta_bounceCat", "spam-related", event.ClassBlock, event.SenderBlocked, true},
		{"pmta_bounceCat", "other", "", "", false},
		{"kumomta", "InvalidRecipient", event.ClassHard, event.MailboxUnknown, true},
		{"kumomta", "QuotaIssues", event.ClassSoft, event.MailboxFull, true},
		{"kumomta", "PolicyRelated", event.ClassBlock, event.PolicyViolation, true},
		{"ses", "Permanent/General", event.ClassHard, "", true},
		{"ses", "Permanent/NoEmail", event.ClassHard, event.MailboxUnknown, true},
		{"ses", "Permanent/OnAccountSuppressionList", event.ClassHard, event.Suppressed, true},
		{"ses", "Transient/MailboxFull", event.ClassSoft, event.MailboxFull, true},
		{"ses", "Transient/ContentRejected", event.ClassBlock, event.ContentRejected, true},
		{"ses", "Undetermined/Undetermined", "", "", false},
		{"ses", "Complaint/abuse", event.ClassComplaint, event.LabelComplaint, true},
		{"ses_delay", "MailboxFull", event.ClassSoft, event.MailboxFull, true},
		{"ses_delay", "Undetermined", "", "", false},
		{"sendgrid", "bounce", event.ClassHard, "", true},
		{"sendgrid", "blocked", event.ClassSoft, "", true},
		{"sendgrid", "bounce/Invalid Address", event.ClassHard, event.MailboxUnknown, true},
		{"sendgrid", "blocked/Frequency or Volume", event.ClassBlock, event.RateLimited, true},
		{"sendgrid", "bounce/Unclassified", event.ClassHard, "", true},
		{"sendgrid", "dropped/Bounced Address", event.ClassHard, event.Suppressed, true},
		{"sendgrid", "spamreport", event.ClassComplaint, event.LabelComplaint, true},
		{"mailgun", "permanent/bounce", event.ClassHard, "", true},
		{"mailgun", "temporary/greylisted", event.ClassSoft, event.Greylisted, true},
		{"mailgun", "permanent/suppress-bounce", event.ClassHard, event.Suppressed, true},
		{"mailgun", "complained", event.ClassComplaint, event.LabelComplaint, true},
		{"pmta_fbl", "complaint", event.ClassComplaint, event.LabelComplaint, true},
		{"somebody", "thing", "", "", false},
	} {
		class, label, ok := classify.Crosswalk(tc.scheme, tc.value)
		if class != tc.class || label != tc.label || ok != tc.ok {
			t.Errorf("Crosswalk(%q, %q) = %q %q %v, want %q %q %v", tc.scheme, tc.value, class, label, ok, tc.class, tc.label, tc.ok)
		}
		if ok && label != "" {
			if c, _, _ := label.Taxonomy(); c != class {
				t.Errorf("Crosswalk(%q, %q): label %s is %s, class says %s", tc.scheme, tc.value, label, c, class)
			}
		}
	}
}
