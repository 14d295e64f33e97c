package classify

import (
	"os"
	"strings"
	"testing"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/reply"
)

func defaultClassifier(t testing.TB) *Classifier {
	t.Helper()
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestClassify is one row per real diagnostic the rules rely on: the text
// as servers send it (from the corpus or the providers' documented replies)
// and the rule that must decide it.
func TestClassify(t *testing.T) {
	c := defaultClassifier(t)
	tests := []struct {
		name string
		in   Input
		rule string
		want event.Label
	}{
		// Provider tier.
		{"gmail does not exist", Input{Code: 550, Enhanced: "5.1.1", Text: "550-5.1.1 The email account that you tried to reach does not exist. Please try\n550-5.1.1 double-checking the recipient's email address for typos or\n550-5.1.1 unnecessary spaces. Learn more at\n550 5.1.1  https://support.google.com/mail/?p=NoSuchUser a1si123 - gsmtp"},
			"provider.google.not_exist", event.MailboxUnknown},
		{"trap: gmail 5.2.1 disabled", Input{Code: 550, Enhanced: "5.2.1", Text: "550-5.2.1 The email account that you tried to reach is disabled. Learn more at\n550 5.2.1  https://support.google.com/mail/?p=DisabledUser z1si - gsmtp"},
			"provider.google.disabled", event.MailboxInactive},
		{"trap: gmail 5.2.1 receiving at a rate", Input{Code: 550, Enhanced: "5.2.1", Text: "host alt1.gmail-smtp-in.l.google.com[74.125.127.27] said: The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered. For more information, please visit https://support.google.com/mail/?p=ReceivingRate - gsmtp"},
			"provider.google.rate", event.RateLimited},
		{"gmail over quota", Input{Code: 552, Enhanced: "5.2.2", Text: "The recipient's inbox is out of storage space and inactive. Please direct the recipient to https://support.google.com/mail/?p=OverQuotaPerm c2-202229zmZBNM3agi23.222 - gsmtp"},
			"provider.google.over_quota", event.MailboxFull},
		{"gmail dmarc", Input{Code: 550, Enhanced: "5.7.26", Text: "Unauthenticated email from example.jp is not accepted due to domain's DMARC policy. Please contact the administrator of example.jp domain if this was a legitimate mail. Please visit https://support.google.com/mail/answer/2451690 - gsmtp"},
			"provider.google.auth", event.AuthFailure},
		{"gmail ptr", Input{Code: 550, Enhanced: "5.7.25", Text: "[192.0.2.202] The IP address sending this message does not have a PTR record setup, or the corresponding forward DNS entry does not point to the sending IP. As a policy, Gmail does not accept messages from IPs with missing PTR records. - gsmtp"},
			"provider.google.ptr", event.SenderConfig},
		{"gmail low reputation", Input{Code: 550, Enhanced: "5.7.1", Text: "[192.0.2.22 18] Our system has detected that this message is likely suspicious due to the very low reputation of the sending IP address. - gsmtp"},
			"provider.google.reputation", event.SenderBlocked},
		{"trap: microsoft 5.4.1 access denied", Input{Code: 550, Enhanced: "5.4.1", Text: "550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [BL2NAM02FT061.eop-nam02.prod.protection.outlook.com]"},
			"provider.microsoft.5_4_1", event.MailboxUnknown},
		{"trap: 5.4.1 access denied without host names", Input{Text: "550 5.4.1 Recipient address rejected: Access denied"},
			"text.recipient_access_denied_5_4_1", event.MailboxUnknown},
		{"microsoft recipnotfound", Input{Text: "Remote Server returned '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found'"},
			"provider.microsoft.recipient_not_found", event.MailboxUnknown},
		{"microsoft banned ip", Input{Code: 550, Enhanced: "5.7.606", Text: "550 5.7.606 Access denied, banned sending IP [198.51.100.222]. To request removal from this list please visit https://sender.office.com/ and follow the directions."},
			"provider.microsoft.banned_ip", event.SenderBlocked},
		{"microsoft ip reputation 4.7.650", Input{Code: 451, Enhanced: "4.7.650", Text: "host outlook-com.olc.protection.outlook.com[52.101.68.1] said: 451 4.7.650 The mail server [192.0.2.25] has been temporarily rate limited due to IP reputation."},
			"provider.microsoft.banned_ip", event.SenderBlocked},
		{"microsoft dmarc 5.7.509", Input{Code: 550, Enhanced: "5.7.509", Text: "550 5.7.509 Access denied, sending domain [EXAMPLE.JP] does not pass DMARC verification and has a DMARC policy of reject."},
			"provider.microsoft.code_5_7_509", event.AuthFailure},
		{"yahoo no account", Input{Code: 554, Text: "554 delivery error: dd This user doesn't have a yahoo.com account (nobody@yahoo.com) [0] - mta1061.mail.ne1.yahoo.com"},
			"provider.yahoo.no_account", event.MailboxUnknown},
		{"yahoo tss04", Input{Code: 421, Enhanced: "4.7.0", Text: "421 4.7.0 [TSS04] Messages from 192.0.2.25 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes"},
			"provider.yahoo.deferred_volume", event.SenderBlocked},
		{"yahoo policy", Input{Code: 554, Enhanced: "5.7.9", Text: "host mta5.am0.yahoodns.net[67.195.204.73] said: 554 5.7.9 Message not accepted for policy reasons. See https://postmaster.verizonmedia.com/error-codes (in reply to end of DATA command)"},
			"text.policy", event.PolicyViolation},
		{"icloud over quota", Input{Code: 552, Enhanced: "5.2.2", Text: "host mx02.mail.icloud.com[17.56.9.31] said: 552 5.2.2 <user@icloud.com>: user is over quota (in reply to RCPT TO command)"},
			"provider.apple.over_quota", event.MailboxFull},
		{"kddi filter after DATA", Input{Code: 550, Text: "host lsean.ezweb.ne.jp[27.85.176.228] said: 550 : User unknown (in reply to end of DATA command)"},
			"provider.jp_mobile.filtered", event.RecipientFiltered},

		// Provider tier: AOL, Apple, GMX/web.de, Mail.ru, Yandex, Mimecast,
		// Proofpoint, Barracuda, Cisco (wordings and sources in rules.yaml).
		{"aol tss04 via yahoo mx", Input{Text: "host mx-aol.mail.gm0.yahoodns.net[67.195.204.79] said: 421 4.7.0 [TSS04] Messages from 192.0.2.25 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes (in reply to MAIL FROM command)"},
			"provider.aol.deferred_volume", event.SenderBlocked},
		{"aol dd no account", Input{Code: 554, Text: "554 delivery error: dd This user doesn't have a aol.com account (nobody@aol.com) [0] - mta1234.mail.gq1.yahoo.com"},
			"provider.aol.no_account", event.MailboxUnknown},
		{"aim dd no longer valid", Input{Code: 554, Domain: "aim.com", Text: "554 delivery error: dd x@aim.com is no longer valid. [-20] - mta4012.aol.mail.bf1.yahoo.com"},
			"provider.aol.no_account", event.MailboxUnknown},
		{"aol dd mailbox disabled", Input{Code: 554, Domain: "aol.com", Text: "554 delivery error: dd Sorry, your message to x@aol.com cannot be delivered. This mailbox is disabled (554.30). - mta1010.mail.gq1.yahoo.com"},
			"provider.aol.disabled", event.MailboxInactive},
		{"yahoo dd mailbox disabled", Input{Code: 554, Domain: "yahoo.com", Text: "554 delivery error: dd Sorry, your message to x@yahoo.com cannot be delivered. This mailbox is disabled (554.30). - mta1010.mail.gq1.yahoo.com"},
			"provider.yahoo.disabled", event.MailboxInactive},
		{"icloud user does not exist", Input{Code: 550, Domain: "icloud.com", Text: "550 5.1.1 <x@icloud.com>: user does not exist"},
			"provider.apple.inactive", event.MailboxUnknown},
		{"icloud CS01 local policy", Input{Text: "host mx01.mail.icloud.com[17.57.154.6] said: 550 5.7.1 [CS01] Message rejected due to local policy. Please visit https://support.apple.com/en-us/HT204137 (in reply to end of DATA command)"},
			"provider.apple.blocked", event.SenderBlocked},
		{"icloud HM08 by domain", Input{Code: 554, Domain: "me.com", Text: "554 5.7.1 [HM08] Message rejected due to local policy. Please visit https://support.apple.com/en-us/HT204137"},
			"provider.apple.blocked", event.SenderBlocked},
		{"icloud proofpoint block at connect", Input{Text: "host mx01.mail.icloud.com[17.56.9.17] refused to talk to me: 554 5.7.0 Blocked - see https://support.proofpoint.com/dnsbl-lookup.cgi?ip=192.0.2.1"},
			"provider.apple.blocked", event.SenderBlocked},
		{"icloud excessive volume", Input{Code: 421, Text: "421 4.7.1 Messages to x@icloud.com deferred due to excessive volume. Try again later - https://support.apple.com/en-us/HT204137"},
			"provider.apple.rate", event.RateLimited},
		{"icloud 4.2.2 mailbox full", Input{Domain: "mac.com", Text: "452 4.2.2 <x@mac.com>: mailbox full"},
			"provider.apple.over_quota", event.MailboxFull},
		{"trap: acme.com is not apple", Input{Text: "host mx.acme.com[192.0.2.9] said: 550 5.7.1 [CS01] rejected"},
			"enhanced.x.7", event.PolicyViolation},
		{"gmx block listed banner", Input{Text: "host mx00.emig.gmx.net[212.227.15.9] refused to talk to me: 554-gmx.net (mxgmx104) Nemesis ESMTP Service not available 554-No SMTP service 554-IP address is block listed. 554 For explanation visit https://postmaster.gmx.net/en/case?c=r0201&i=ip&v=192.0.2.42&r=1MNcgj"},
			"provider.gmx.blocked", event.SenderBlocked},
		{"trap: gmx block worded mailbox unavailable", Input{Code: 550, Domain: "web.de", Text: "550 Requested action not taken: mailbox unavailable. IP address is block listed. For explanation visit https://postmaster.web.de/en/case?c=r0201"},
			"provider.gmx.blocked", event.SenderBlocked},
		{"gmx bad ptr", Input{Text: "host mx00.emig.gmx.net[212.227.15.9] refused to talk to me: 554-gmx.net (mxgmx017) Nemesis ESMTP Service not available 554-No SMTP service 554-Bad DNS PTR resource record. 554 For explanation visit http://postmaster.gmx.com/en/error-messages?ip=192.0.2.190&c=rdns"},
			"provider.gmx.ptr", event.SenderConfig},
		{"web.de headers not compliant", Input{Text: "host mx-ha03.web.de[212.227.15.17] said: 554-Transaction failed 554-Reject due to policy restrictions. 554 For explanation visit https://postmaster.web.de/en/case?c=hi&i=ip&v=192.0.2.7 (in reply to end of DATA command)"},
			"provider.gmx.headers", event.ContentRejected},
		{"gmx mailbox unavailable", Input{Text: "host mx01.emig.gmx.net[212.227.17.5] said: 550 Requested action not taken: mailbox unavailable (in reply to RCPT TO command)", Domain: "gmx.de"},
			"provider.gmx.mailbox_unavailable", event.MailboxUnknown},
		{"web.de action not allowed", Input{Code: 550, Domain: "web.de", Text: "550 Requested action not allowed: mailbox unavailable"},
			"provider.gmx.mailbox_unavailable", event.MailboxUnknown},
		{"gmx over quota", Input{Code: 552, Domain: "gmx.net", Text: "552 Requested mail action aborted: exceeded storage allocation Quota exceeded."},
			"provider.gmx.mailbox_full", event.MailboxFull},
		{"mail.ru user not found", Input{Text: "host mxs.mail.ru[94.100.180.31] said: 550 Message was not accepted -- invalid mailbox. Local mailbox x@mail.ru is unavailable: user not found (in reply to end of DATA command)"},
			"provider.mailru.no_account", event.MailboxUnknown},
		{"mail.ru account disabled", Input{Code: 550, Domain: "bk.ru", Text: "550 Message was not accepted -- invalid mailbox. Local mailbox x@bk.ru is unavailable: account is disabled"},
			"provider.mailru.disabled", event.MailboxInactive},
		{"mail.ru spam", Input{Code: 550, Domain: "list.ru", Text: "550 spam message rejected. Please visit http://help.mail.ru/notspam-support/id?c=7y4ytdHbuOGv3O50 or report details to abuse@corp.mail.ru. Error code: B5322EEFE1B8DBD1. ID: 0000"},
			"provider.mailru.spam", event.SpamContent},
		{"mail.ru ratelimit", Input{Code: 451, Domain: "inbox.ru", Text: "451 Ratelimit exceeded for mailbox x@inbox.ru. Try again later."},
			"provider.mailru.rate", event.RateLimited},
		{"yandex no such user under 5.7.1", Input{Text: "host mx.yandex.ru[77.88.21.249] said: 550 5.7.1 No such user! (in reply to RCPT TO command)"},
			"provider.yandex.no_user", event.MailboxUnknown},
		// Yandex's documented answer for an address that does not exist
		// (yandex.com/support/mail/bounces): the explicit lookup wording
		// outranks the odd 5.7.1, with or without Yandex's host names.
		{"no such user! elsewhere under 5.7.1 is the lookup", Input{Text: "550 5.7.1 No such user!"},
			"text.user_unknown.explicit", event.MailboxUnknown},
		{"yandex spam", Input{Code: 554, Domain: "yandex.ru", Text: "554 5.7.1 [1] Message rejected under suspicion of SPAM; https://ya.cc/1IrBc 1665519620-lIqkcXR7PM"},
			"provider.yandex.spam", event.SpamContent},
		{"yandex mailbox size limit", Input{Code: 552, Domain: "ya.ru", Text: "552 5.2.2 Mailbox size limit exceeded"},
			"provider.yandex.mailbox_full", event.MailboxFull},
		{"yandex policy rejection on target", Input{Code: 550, Domain: "yandex.com", Text: "550 5.7.1 Policy rejection on the target address"},
			"provider.yandex.policy_target", event.RecipientFiltered},
		{"mimecast invalid recipient", Input{Text: "host eu-smtp-inbound-1.mimecast.com[195.130.217.221] said: 550 Invalid Recipient - https://community.mimecast.com/docs/DOC-1369#550 [EhxW3Ig7OxKx6E8Fvwb0Ag.uk1] (in reply to RCPT TO command)"},
			"provider.mimecast.invalid_recipient", event.MailboxUnknown},
		{"mimecast invalid recipient 451 is soft", Input{Text: "451 Invalid Recipient - https://community.mimecast.com/docs/DOC-1369#451 [abc.us1]"},
			"text.user_unknown.temporary", event.RecipientFiltered},
		{"mimecast anti-spoofing", Input{Text: "550 Rejected by header based Anti-Spoofing policy: x@example.com - https://community.mimecast.com/docs/DOC-1369#550 [abc.uk1]"},
			"provider.mimecast.spoofing", event.PolicyViolation},
		{"mimecast administrative prohibition", Input{Text: "550 Administrative prohibition - envelope blocked - https://community.mimecast.com/docs/DOC-1369#550 [abc.us1]"},
			"provider.mimecast.blocked_senders", event.PolicyViolation},
		{"mimecast user entry", Input{Text: "550 Envelope blocked - User Entry - https://community.mimecast.com/docs/DOC-1369#550 [abc.us1]"},
			"provider.mimecast.user_block", event.RecipientFiltered},
		{"mimecast internal resource", Input{Text: "451 Internal resource temporarily unavailable - https://community.mimecast.com/docs/DOC-1369#451 [abc.us1]"},
			"provider.mimecast.greylist", event.Greylisted},
		{"mimecast spam signature", Input{Text: "host service222.mimecast.com[91.220.42.51] said: 554 email rejected due to security policies - MCSpamSignature.sa.2.2 (in reply to end of DATA command)"},
			"provider.mimecast.spam_signature", event.SpamContent},
		{"proofpoint ipcheck block", Input{Text: "host mx0a-00123456.pphosted.com[148.163.1.1] refused to talk to me: 554 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.1"},
			"provider.proofpoint.blocked", event.SenderBlocked},
		{"proofpoint user unknown", Input{Text: "host mx0b-00123456.pphosted.com[148.163.2.2] said: 550 5.1.1 User Unknown (in reply to RCPT TO command)"},
			"provider.proofpoint.user_unknown", event.MailboxUnknown},
		{"proofpoint marked invalid", Input{Text: "host mx1-us1.ppe-hosted.com[67.231.154.1] said: 550 5.7.1 <x@example.com>: Recipient address rejected: User email address is marked as invalid. (in reply to RCPT TO command)"},
			"provider.proofpoint.marked_invalid", event.MailboxUnknown},
		{"proofpoint local policy", Input{Text: "host mx0a-00123456.pphosted.com[148.163.1.1] said: 550 5.7.1 Local Policy Violation (in reply to end of DATA command)"},
			"provider.proofpoint.policy", event.PolicyViolation},
		{"proofpoint hourly throttle", Input{Text: "host mx0a-00123456.pphosted.com[148.163.1.1] said: 452 Too many recipients received this hour (in reply to RCPT TO command)"},
			"provider.proofpoint.rate", event.RateLimited},
		{"barracuda reputation ess", Input{Text: "550 Service unavailable; Client host [smtp.example.com] blocked using Barracuda Reputation; http://www.barracudanetworks.com/reputation/?r=1&ip=192.0.2.9 (x@example.org:blocked,y@example.org:blocked)"},
			"provider.barracuda.reputation", event.SenderBlocked},
		{"barracuda cuda_nsu", Input{Text: "550 cuda_nsu 5.1.1 <x@example.com>... User unknown"},
			"provider.barracuda.no_such_user", event.MailboxUnknown},
		{"barracuda ess blocked", Input{Text: "host d123456a.ess.barracudanetworks.com[209.222.82.1] said: 550 permanent failure for one or more recipients (x@example.com:blocked) (in reply to end of DATA command)"},
			"provider.barracuda.blocked", event.PolicyViolation},
		{"barracuda spam url", Input{Text: "host d123456a.ess.barracudanetworks.com[209.222.82.1] said: 554 rejected due to spam URL in content (in reply to end of DATA command)"},
			"provider.barracuda.spam", event.SpamContent},
		{"cisco sbrs", Input{Text: "host mx2.hc2916-71.iphmx.com[68.232.1.1] refused to talk to me: 554-esa6.hc2916-71.iphmx.com 554 Your access to this mail system has been rejected due to the sending MTA's poor reputation. If you believe that this failure is in error, please contact the intended recipient via alternate means."},
			"provider.cisco.reputation", event.SenderBlocked},
		{"cisco message refused sbrs", Input{Text: "host esa1.hc1234-56.iphmx.com[68.232.2.2] said: 554 Message refused. SBRS score too low (in reply to MAIL FROM command)"},
			"provider.cisco.reputation", event.SenderBlocked},
		{"cisco recipients per hour", Input{Text: "host mx1.hc1234-56.iphmx.com[68.232.3.3] said: 452 Too many recipients received this hour (in reply to RCPT TO command)"},
			"provider.cisco.rate", event.RateLimited},
		{"cisco concurrent connections", Input{Text: "host mx1.hc1234-56.iphmx.com[68.232.3.3] refused to talk to me: 421 Too many concurrent SMTP connections from this IP address; please try again later."},
			"provider.cisco.rate", event.RateLimited},
		{"cisco ldap address rejected", Input{Text: "host mga01.example.iphmx.com[192.0.2.55] said: 550 #5.1.0 Address rejected. (in reply to RCPT TO command)"},
			"provider.cisco.address_rejected", event.MailboxUnknown},

		// Text tier: the recipient.
		{"postfix user unknown", Input{Text: "host mx.example.jp[192.0.2.22] said: 550 5.1.1 <kijitora@example.jp>: Recipient address rejected: User unknown in local recipient table (in reply to RCPT TO command)"},
			"text.user_unknown", event.MailboxUnknown},
		{"trap: user unknown with 4xx is hard", Input{Code: 450, Enhanced: "4.1.1", Text: "450 4.1.1 <kijitora@example.org>: Recipient address rejected: User unknown in virtual alias table"},
			"text.user_unknown", event.MailboxUnknown},
		{"exim no such user after RCPT TO", Input{Text: "SMTP error from remote mail server after RCPT TO:<x@example.org>: 550 No such user here"},
			"text.user_unknown.rcpt", event.MailboxUnknown},
		{"qmail no mailbox", Input{Text: "Sorry, no mailbox here by that name. (#5.1.1)"},
			"text.user_unknown", event.MailboxUnknown},
		{"outlook.com mailbox unavailable 5.5.0", Input{Code: 550, Enhanced: "5.5.0", Domain: "hotmail.com", Text: "550 5.5.0 Requested action not taken: mailbox unavailable (1914005592:...)"},
			"provider.microsoft.mailbox_unavailable", event.MailboxUnknown},
		{"trap: bare mailbox unavailable is not hard", Input{Code: 550, Text: "550 Requested action not taken: mailbox unavailable"},
			"text.user_unknown.generic", event.RecipientFiltered},
		{"mailbox unavailable with 450 is not hard", Input{Code: 450, Text: "450 Requested mail action not taken: mailbox unavailable"},
			"text.user_unknown.generic", event.RecipientFiltered},
		{"trap: mailbox full with 5xx is soft", Input{Text: "550 5.2.2 <kijitora@example.co.jp>... Mailbox Full"},
			"text.mailbox_full", event.MailboxFull},
		{"dovecot quota at DATA", Input{Text: "host smtp3.example.com[private/dovecot-lmtp] said: 552 5.2.2 <neko@example.org> Quota exceeded (mailbox for user is full) (in reply to end of DATA command)"},
			"text.mailbox_full", event.MailboxFull},
		{"exchange storedrv full", Input{Code: 550, Enhanced: "5.2.2", Text: "#550 5.2.2 STOREDRV.Deliver: mailbox full. The following information should help identify the cause: \"MapiExceptionShutoffQuotaExceeded:00.00000\""},
			"provider.microsoft.mailbox_full", event.MailboxFull},
		{"insufficient storage", Input{Text: "452 Insufficient system storage"},
			"text.mailbox_full", event.MailboxFull},
		{"disabled recipient", Input{Text: "525 5.7.13 <neko@example.org>: Recipient address rejected: Disabled recipient address"},
			"text.mailbox_inactive", event.MailboxInactive},
		{"account closed", Input{Text: "550 <x@example.com>: Recipient address rejected: Account closed due to inactivity. No forwarding information is available."},
			"text.mailbox_inactivity", event.MailboxInactive},
		{"moved", Input{Text: "550 5.1.6 address neko@cat.cat has been replaced by neko@example.jp"},
			"text.mailbox_moved", event.MailboxMoved},
		{"user unknown under 5.7.1 conflicts", Input{Text: "550 5.7.1 <x@sfr.fr>: Recipient address rejected: User unknown"},
			"text.user_unknown.policy_code", event.RecipientFiltered},
		{"trap: user unknown after DATA is a filter", Input{Text: "host mail.example.net[192.0.2.78] said: 550 Unknown user kijitora@example.net (in reply to end of DATA command)"},
			"text.user_unknown.data", event.RecipientFiltered},
		{"trap: bare user unknown is not hard", Input{Code: 550, Text: "550 user unknown"},
			"text.user_unknown.generic", event.RecipientFiltered},
		{"trap: user unknown with 4xx and nothing else is soft", Input{Text: "451 Invalid recipient <x@example.org>"},
			"text.user_unknown.temporary", event.RecipientFiltered},
		{"trap: user unknown with 4xx from postfix lookup is hard", Input{Code: 450, Text: "450 <x@example.org>: Recipient address rejected: User unknown in local recipient table"},
			"text.user_unknown", event.MailboxUnknown},
		{"sendmail user unknown with 5.1.1", Input{Text: "550 5.1.1 <kijitora@example.jp>... User unknown"},
			"text.user_unknown.enhanced", event.MailboxUnknown},
		{"trap: user unknown with 5.2.1 conflicts", Input{Text: "550 5.2.1 <kijitora@example.jp>... User Unknown"},
			"text.user_unknown.conflicting", event.RecipientFiltered},
		{"user unknown with 5.2.1 at RCPT is hard", Input{Text: "host mx.example.jp[203.0.113.22] said: 550 5.2.1 <kijitora@example.jp>... User Unknown (in reply to RCPT TO command)"},
			"text.user_unknown.rcpt", event.MailboxUnknown},
		{"qmail most progress was RCPT TO", Input{Text: "Sorry, no SMTP connection got far enough; most progress was RCPT TO response; remote host 192.0.2.32 said: 550 Unknown user kijitora@example.ne.jp . (#5.5.0)"},
			"text.user_unknown.rcpt", event.MailboxUnknown},
		{"postfix no valid recipients: explicit wording under 5.5.0", Input{Text: "550 5.5.0 Adresse destinataire invalide. Invalid recipient. LPN007_416 554 5.5.1 Error: no valid recipients"},
			"text.user_unknown.explicit", event.MailboxUnknown},
		{"exchange 2003 unknown recipient", Input{Text: "Unknown Recipient"},
			"text.user_unknown.lookup", event.MailboxUnknown},
		{"yahoo dd through a relay", Input{Code: 554, Text: "192.0.2.123 554 delivery error: dd This user doesn't have a example.com account"},
			"provider.yahoo.no_account", event.MailboxUnknown},
		{"kddi names the address at RCPT", Input{Text: "550 <nobody@ezweb.ne.jp>: User unknown"},
			"provider.kddi.unknown", event.MailboxUnknown},
		{"kddi empty address is its filter", Input{Domain: "ezweb.ne.jp", Text: "550 : User unknown"},
			"provider.kddi.filtered", event.RecipientFiltered},
		{"gmail address not found notice", Input{Text: "** Address not found ** Your message wasn't delivered to x@example.it because the address couldn't be found. Check for typos or unnecessary spaces and try again."},
			"text.user_unknown", event.MailboxUnknown},
		{"sendmail mail.local unknown user", Input{Text: "mail.local: unknown user: kijitora 554 <kijitora@example.net>... Service unavailable"},
			"text.user_unknown", event.MailboxUnknown},
		{"procmail cannot write is the server", Input{Enhanced: "5.1.1", Text: "procmail: Couldn't create \"/var/spool/mail/neko\" id: r.example.org: No such user"},
			"text.local_delivery_error", event.RemoteSystemError},
		{"facebook RCP-P1 no account", Input{Text: "550 5.1.1 RCP-P1 http://postmaster.facebook.com/response_codes?ip=192.0.2.135#rcp Attempted to send to a non existent user"},
			"provider.facebook.no_account", event.MailboxUnknown},
		{"facebook RCP-P2 preferences", Input{Text: "550 5.1.1 RCP-P2 http://postmaster.facebook.com/response_codes?ip=192.0.2.135#rcp Refused due to recipient preferences"},
			"provider.facebook.preferences", event.RecipientFiltered},
		{"blocked by the recipient", Input{Text: "You have been blocked by the recipient"},
			"text.recipient_filtered", event.RecipientFiltered},

		// Text tier: the domain.
		{"postfix nxdomain", Input{Text: "Host or domain name not found. Name service error for name=neko.example.jp type=AAAA: Host not found"},
			"text.domain_unknown", event.DomainUnknown},
		{"postfix null mx", Input{Text: "an MX or SRV record indicated no SMTP service"},
			"text.domain_null_mx", event.DomainUnknown},
		{"trap: recipient domain null MX under 4.0.0 is hard", Input{Enhanced: "4.0.0", Text: "DNS Error: 24275403 DNS type 'mx' lookup of example.org responded with code NOERROR The domain example.org doesn't receive email according to the administrator: returned Null MX"},
			"text.domain_null_mx", event.DomainUnknown},
		{"trap: NXDOMAIN our MTA calls temporary is not hard", Input{Enhanced: "4.0.0", Text: "** Address not found ** Your message wasn't delivered to x@example.jp because the domain example.jp couldn't be found. The response was: DNS Error: 80335577 DNS type 'mx' lookup of example.jp responded with code NXDOMAIN Domain name not found: example.jp"},
			"text.domain_unknown.temporary", event.NetworkError},
		{"trap: our MTA's name server failure is not hard", Input{Text: "Deferred: Name server: example.co.jp.: host name lookup failure"},
			"text.dns_transient", event.NetworkError},
		{"qmail no host", Input{Text: "Sorry, I couldn't find any host named cx.example.com. (#5.1.2)"},
			"text.domain_unknown", event.DomainUnknown},
		{"transient dns is not hard", Input{Text: "Name service error for domain example.com: Host not found, try again"},
			"text.dns_transient", event.NetworkError},
		{"sender domain at MAIL FROM", Input{Text: "SMTP error from remote mail server after MAIL FROM:<s@neko.example.com>: 550 5.1.7 No such domain neko.example.com."},
			"text.sender_domain_unknown", event.SenderAddressRejected},

		// Text tier: the sender and the message.
		{"trap: spamhaus worded mailbox unavailable", Input{Code: 550, Enhanced: "5.1.1", Text: "550 5.1.1 Mailbox unavailable: client 192.0.2.1 blocked using zen.spamhaus.org"},
			"text.blocklist", event.SenderBlocked},
		{"trap: blocklist hit carrying 5.1.1", Input{Code: 550, Enhanced: "5.1.1", Text: "550 5.1.1 Service unavailable; Client host [192.0.2.1] blocked using Barracuda Reputation"},
			"provider.barracuda.reputation", event.SenderBlocked},
		{"trap: blocklist worded mailbox unavailable without codes", Input{Text: "550 Requested action not taken: mailbox unavailable. Your IP 192.0.2.1 is listed on bl.spamcop.net"},
			"text.blocklist", event.SenderBlocked},
		{"cox CDRBL at MAIL FROM", Input{Text: "host cxr.mx.a.cloudfilter.net[34.212.80.54] said: 550 5.1.0 <bounce@example.com> sender rejected. Refer to Error Codes section at https://www.cox.com/residential/support/email-error-codes.html for more information. AUP#CDRBL (in reply to MAIL FROM command)"},
			"provider.cox.blocked", event.SenderBlocked},
		{"orange service refuse at connect", Input{Text: "host smtp-in.orange.fr[193.252.22.65] refused to talk to me: 421 mwinf5c77 ME Service refuse. Veuillez essayer plus tard. Service refused, please try later. OFR_999 [999]"},
			"provider.orange.blocked", event.SenderBlocked},
		// RFC 5321 §3.8 / §4.2.3: "421 <domain> Service not available,
		// closing transmission channel" is the server's own state; the
		// banner names neither our IP nor a list nor a rate.
		{"trap: 421 service not available banner is the remote's trouble", Input{Text: "delivery temporarily suspended: host mfsmax.example.net[203.0.113.127] refused to talk to me: 421 Service not available, closing transmission channel"},
			"text.banner_refused.temporary", event.RemoteSystemError},
		{"5xx banner refusal is about us", Input{Text: "host mx.example.net[203.0.113.127] refused to talk to me: 554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked"},
			"text.banner_refused", event.SenderBlocked},
		{"google groups non-member", Input{Text: "Hello x@example.jp, We're writing to let you know that the group you tried to contact (g) may not exist, or you may not have permission to post messages to the group. If you have questions related to this or any other Google Group, visit the Help Center at https://groups.google.com/support/."},
			"provider.google.groups", event.SenderAddressRejected},
		{"trap: sender verify failure mentioning unrouteable address", Input{Text: "550-Verification failed for <bounce@example.com>\n550-Unrouteable address\n550 Sender verify failed"},
			"text.sender_address", event.SenderAddressRejected},
		{"trap: tenant submission quota is not mailbox full", Input{Code: 550, Enhanced: "5.2.2", Text: "550 5.2.2 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message due to a permanent exception with message Cannot submit message."},
			"provider.microsoft.submission_quota", event.RateLimited},
		{"trap: sending quota without provider names", Input{Code: 550, Text: "550 5.2.2 SubmissionQuotaExceededException: Cannot submit message."},
			"text.sending_quota", event.RateLimited},
		{"sorbs", Input{Text: "Service unavailable; client [203.0.113.225] blocked using dnsbl.sorbs.net"},
			"text.blocklist", event.SenderBlocked},
		{"barracuda", Input{Text: "554 Service unavailable; Client host [192.0.2.1] blocked using b.barracudacentral.org; http://www.barracudanetworks.com/reputation/?pr=1&ip=192.0.2.1"},
			"provider.barracuda.reputation", event.SenderBlocked},
		{"trap: sending quota is rate limiting", Input{Text: "554 You've reached your daily relay quota - 203.0.113.2"},
			"text.sending_quota", event.RateLimited},
		{"connection rate", Input{Text: "452 4.3.2 Connection rate limit exceeded. (in reply to MAIL FROM command)"},
			"text.rate_limited", event.RateLimited},
		{"too many connections", Input{Text: "421 Too many connections"},
			"text.rate_limited", event.RateLimited},
		{"trap: try again later is not throttling", Input{Code: 421, Text: "421 Please try again later"},
			"code.421", event.RemoteSystemError},

		// Issue 13: provider rules outrank generic text. Microsoft Learn,
		// "Fix error code 451 4.7.500-699 (ASxxx) in Exchange Online" (the
		// reply as quoted in gitlab.com/lightmeter/controlcenter#319):
		// throttling of our IP, not the remote's "server busy" trouble.
		{"issue13: exchange online 4.7.500 server busy is throttling", Input{Code: 451, Enhanced: "4.7.500", Text: "451 4.7.500 Server busy. Please try again later from [192.0.2.64]. (S77719) [FR2DEU01FT008.eop-deu01.prod.protection.outlook.com]"},
			"provider.microsoft.code_throttled", event.RateLimited},
		// Microsoft Learn, "Fix error code 5.7.708 in Exchange Online":
		// Microsoft's own code beats the generic "Access denied" policy phrase.
		{"issue13: exchange online 5.7.708 beats access denied", Input{Code: 550, Enhanced: "5.7.708", Text: "550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP."},
			"provider.microsoft.code_banned", event.SenderBlocked},
		// Issue 13: a 4xx at connect is the server's own state. RFC 5321
		// §4.2.3/§3.8: "421 <domain> Service not available, closing
		// transmission channel".
		{"issue13: 421 service not available at connect is remote trouble", Input{Code: 421, Command: "CONNECT", Text: "421 mx.example.org Service not available, closing transmission channel"},
			"stage.connect.temporary", event.RemoteSystemError},
		// RFC 5321 §3.1: "a 554 response MAY be given in the initial
		// connection opening message instead of the 220" to refuse the
		// client; §4.2.3 words it "554 No SMTP service here".
		{"issue13: 554 at connect is still about us", Input{Code: 554, Command: "CONNECT", Text: "554 mx.example.org No SMTP service here"},
			"stage.connect", event.SenderBlocked},
		// Yahoo's postmaster error codes (postmaster.yahooinc.com/error-codes):
		// a 421 at connect that names our IP and volume stays a block.
		{"issue13: 421 at connect naming our ip and volume stays block", Input{Code: 421, Enhanced: "4.7.0", Command: "CONNECT", Text: "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes"},
			"provider.yahoo.deferred_volume", event.SenderBlocked},
		// Issue 13: a quota counted per hour is a rate. cPanel's Exim
		// (docs.cpanel.net, "max emails per hour"): "Domain x has exceeded
		// the max emails per hour ... allowed".
		{"issue13: emails per hour is a rate, not a full mailbox", Input{Code: 550, Text: "550 Domain example.org has exceeded the max emails per hour (250/250 (100%)) allowed.  Message discarded."},
			"text.sending_quota", event.RateLimited},
		// Momentum MTA manual, Appendix "Message Responses"
		// (SparkPost/momentum-documentation): "452 4.5.3 Service
		// unavailable, recipients per connection limit reached".
		{"issue13: a per-connection limit is a rate", Input{Code: 452, Enhanced: "4.5.3", Text: "452 4.5.3 Service unavailable, recipients per connection limit reached"},
			"text.sending_quota", event.RateLimited},
		// Issue 13: the X.7 catch-all is not for a bare temporary deferral.
		// Microsoft Learn, "Fix error code 451 4.7.0 Temporary server error.
		// Please try again later. PRX4 in Exchange Online".
		{"issue13: 4.7.0 temporary server error is the remote's hiccup", Input{Code: 451, Enhanced: "4.7.0", Text: "451 4.7.0 Temporary server error. Please try again later. PRX4 [BN7NAM10FT012.eop-nam10.prod.protection.outlook.com]"},
			"text.remote_system", event.RemoteSystemError},
		// Google Workspace SMTP error reference (support.google.com/a/answer/3726730).
		{"issue13: 4.7.0 try again later is a deferral, not policy", Input{Code: 421, Enhanced: "4.7.0", Text: "421 4.7.0 Try again later, closing connection."},
			"text.greylisted", event.Greylisted},
		// Rspamd's milter (rspamd/rspamd src/libserver/milter.h) answers
		// its "soft reject" action, which greylisting and rate limits use,
		// with RSPAMD_MILTER_RCODE_TEMPFAIL "451", XCODE "4.7.1" and
		// RSPAMD_MILTER_TEMPFAIL_MESSAGE "Try again later".
		{"issue13: rspamd 451 4.7.1 try again later is a deferral, not policy", Input{Code: 451, Enhanced: "4.7.1", Text: "451 4.7.1 Try again later"},
			"text.deferral_x_7", event.Greylisted},
		// Issue 13: moved only with a new address. RFC 5321 §3.4: "551 User
		// not local; please try <forward-path>".
		{"issue13: 551 user not local with a forward path is moved", Input{Code: 551, Text: "551 User not local; please try <kijitora@example.org>"},
			"text.mailbox_moved", event.MailboxMoved},
		// PHPMailer-BMH's rule samples (voku/PHPMailer-BMH
		// phpmailer-bmh_rules.php): "551 not our customer", no new address.
		{"issue13: 551 not our customer without an address is unknown", Input{Code: 551, Text: "551 not our customer"},
			"text.not_local", event.MailboxUnknown},
		// Postfix relocated(5) and trivial-rewrite resolve.c: "5.1.6 User
		// has moved to new_location", where new_location is any contact
		// information, here no e-mail address: X.1.6 keeps it moved.
		{"issue13: postfix relocated 5.1.6 without an e-mail address is moved", Input{Code: 550, Enhanced: "5.1.6", Text: "550 5.1.6 <joe@example.org>: Recipient address rejected: User has moved to the Sales office, +1 555 0100"},
			"text.mailbox_moved.enhanced", event.MailboxMoved},
		// Issue 13: explicit lookup wording outranks an odd enhanced code or
		// a 450 (PHPMailer-BMH rule samples; qmail rcptcheck patches answer
		// "sorry, that recipient doesn't exist (#5.7.1)"; Sendmail's
		// "553 5.3.0 ... Addressee unknown").
		{"issue13: recipient doesn't exist under 5.7.1 is unknown", Input{Code: 550, Text: "550 sorry, that recipient doesn't exist (#5.7.1)"},
			"text.user_unknown.explicit", event.MailboxUnknown},
		{"issue13: addressee unknown under 5.3.0 is unknown", Input{Code: 553, Enhanced: "5.3.0", Text: "553 5.3.0 <x@example.org>... Addressee unknown, relay=[192.0.2.1]"},
			"text.user_unknown.explicit", event.MailboxUnknown},
		{"issue13: 450 user path no exist is unknown", Input{Code: 450, Text: "450 user path no exist"},
			"text.user_unknown.explicit_temporary", event.MailboxUnknown},
		// Postfix access(5): an admin's "REJECT User unknown" in a
		// check_recipient_access map is answered with
		// access_map_reject_code (554) and the access map's 5.7.1: a
		// policy table chose the words, not a directory lookup.
		{"trap: issue13 postfix access map user unknown under 5.7.1 stays soft", Input{Code: 554, Enhanced: "5.7.1", Text: "554 5.7.1 <x@example.org>: Recipient address rejected: User unknown"},
			"text.user_unknown.policy_code", event.RecipientFiltered},
		// Postfix smtpd and postscreen (postscreen/postscreen_smtpd.c):
		// "421 4.4.2 <myhostname> Error: timeout exceeded" ends an idle
		// session: a session lost half-way, not the server's own state.
		{"issue13: postfix idle session timeout is a network failure", Input{Code: 421, Enhanced: "4.4.2", Text: "421 4.4.2 mx.example.org Error: timeout exceeded"},
			"text.network", event.NetworkError},
		// Yahoo's error-code page (help.yahoo.com SLN3444): "VS1-IP Excessive
		// unknown recipients - possible Open Relay" deprioritises the sender;
		// Yahoo's own VS code names our IP, so it is a block of our sending.
		{"trap: a count of unknown recipients judges our sending, not the address", Input{Code: 451, Enhanced: "4.1.8", Text: "451 VS1-IP Excessive unknown recipients - possible Open Relay (#4.1.8)"},
			"provider.yahoo.vs_code", event.SenderBlocked},
		{"trap: a count of unknown recipients without yahoo's code is a rate", Input{Code: 451, Enhanced: "4.1.8", Text: "451 Excessive unknown recipients - possible Open Relay (#4.1.8)"},
			"text.rate_limited", event.RateLimited},
		// Gmail's SMTP error reference (support.google.com/a/answer/3726730):
		// the recipient "is receiving email at a rate that prevents additional
		// messages from being delivered", under 5.2.1 like a disabled account.
		{"trap: a recipient receiving too fast is not a disabled mailbox", Input{Code: 550, Enhanced: "5.2.1", Text: "550 5.2.1 The user you are trying to contact is receiving email at a rate that prevents additional messages from being delivered."},
			"text.rate_limited", event.RateLimited},
		{"trap: temporary failure says nothing more than 4xx", Input{Code: 450, Enhanced: "4.0.0", Text: "This message could not be delivered. 450 4.0.0 Temporary failure"},
			"code.4xx", event.Unknown},
		{"yahoo tss04 without host names", Input{Code: 421, Enhanced: "4.7.0", Text: "421 4.7.0 [TSS04] Messages from 192.0.2.25 temporarily deferred due to unexpected volume or user complaints"},
			"provider.yahoo.deferred_volume", event.SenderBlocked},
		{"uribl link in the body", Input{Code: 550, Text: "Body of message generated response: REJECTED - Blacklisted URL in message. (example.com) in [black]. See http://lookup.uribl.com. - Blacklisted Link - X=pascal H=mail.example.com [192.0.2.11]"},
			"text.uri_blocklist", event.SpamContent},
		{"symantec relay without authentication", Input{Code: 550, Enhanced: "5.0.0", Text: "This is the mail delivery agent at Symantec Email Security.cloud. I was unable to deliver your message to the following addresses: kijitora@example.messagelabs.com Reason: Please turn on SMTP Authentication in your mail client. mail0.bemta0.messagelabs.com [198.51.100.21]:22222 is not permitted to relay through this server without authentication."},
			"text.relay_auth_required", event.PolicyViolation},
		{"cpanel exim relay without authentication", Input{Text: "550-ds176.example.com [192.0.2.211] is currently not permitted to relay through this server. Perhaps you have not logged into the pop/imap server in the last 30 minutes or do not have SMTP Authentication turned on in your email client."},
			"text.relay_auth_required", event.PolicyViolation},
		{"sendmail queue disk full", Input{Code: 452, Enhanced: "4.4.5", Text: "452 4.4.5 Insufficient disk space; try again later"},
			"text.server_storage", event.RemoteSystemError},
		{"trap: disk space without a system code is the mailbox", Input{Code: 452, Text: "452 Insufficient disk space; try again later"},
			"text.mailbox_full", event.MailboxFull},
		{"message filtered as spam", Input{Code: 553, Text: "553-Message filtered. Please see the FAQs section on spam"},
			"text.spam_filtered", event.SpamContent},
		{"postgrey", Input{Text: "450 4.2.0 <x@example.com>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.com.html"},
			"text.greylisted", event.Greylisted},
		{"spf", Input{Text: "550 5.1.0 192.0.2.222 is not allowed to send from <example.net> per it's SPF Record"},
			"text.auth_failure", event.AuthFailure},
		{"spam score", Input{Text: "554 5.7.1 Message scored too high on spam scale."},
			"text.spam", event.SpamContent},
		{"virus", Input{Text: "host 127.0.0.1[127.0.0.1] said: 550 Virus Detected; Content Rejected (in reply to end of DATA command)"},
			"text.virus", event.VirusDetected},
		{"too large", Input{Text: "552 5.2.3 Message size exceeds fixed maximum message size (10485760)"},
			"text.too_large", event.MessageTooLarge},
		{"relay denied", Input{Text: "554 5.7.1 <kijitora@example.org>: Relay access denied"},
			"text.relay_denied", event.RelayDenied},
		{"sender address rejected", Input{Text: "501 5.1.8 Sender address rejected"},
			"text.sender_address", event.SenderAddressRejected},
		{"sender verify", Input{Text: "550-Verification failed for <bounce@example.com>\n550 Sender verify failed"},
			"text.sender_address", event.SenderAddressRejected},
		{"starttls required", Input{Text: "538 5.7.10 STARTTLS is required to send mail"},
			"text.sender_config", event.SenderConfig},
		{"reverse dns", Input{Text: "550 5.7.1 Connections not accepted from servers without a valid sender domain. Fix reverse DNS for 203.0.113.2"},
			"text.sender_config", event.SenderConfig},
		{"multi-line gmail rfc 5322", Input{Text: "550-5.7.1 This message is not RFC 5322 compliant. There are multiple Subject\n550-5.7.1 headers. To reduce the amount of spam sent to Gmail, this message has\n550 5.7.1 been blocked. - gsmtp"},
			"provider.google.rfc5322", event.ContentRejected},
		{"local policy", Input{Text: "550 5.7.0 Local Policy Violation (in reply to end of DATA command)"},
			"text.policy", event.PolicyViolation},

		// Text tier: transport and our own MTA.
		{"connection timed out", Input{Text: "connect to example.org[203.0.113.225]:25: Connection timed out"},
			"text.connect_failed", event.NetworkError},
		{"connection refused", Input{Text: "connect to mx.example.net[192.0.2.1]:25: Connection refused"},
			"text.connect_failed", event.NetworkError},
		{"lost connection", Input{Enhanced: "4.4.2", Text: "lost connection with mx2.qq.com[184.105.206.86] while performing the HELO handshake"},
			"text.network", event.NetworkError},
		{"enhanced 4.4.1", Input{Text: "451 4.4.1 reply: read error from mx.example.com."},
			"enhanced.4.4.1", event.NetworkError},
		{"retry timeout exceeded", Input{Text: "retry timeout exceeded"},
			"text.expired", event.LabelExpired},
		{"kumomta internal", Input{Text: "KumoMTA internal: failed to connect to any candidate hosts: all failed"},
			"local.kumomta", event.NetworkError},
		{"postfix suspended", Input{Text: "delivery temporarily suspended: connect to mx.example.com[192.0.2.1]:25: Connection timed out"},
			"text.postfix_suspended", event.NetworkError},
		{"exim retry time", Input{Text: "R=dnslookup T=remote_smtp defer (-53): retry time not reached for any host"},
			"local.exim.retry", event.NetworkError},
		{"exim errno", Input{Text: "R=dnslookup T=remote_smtp defer (-18): Remote host closed connection"},
			"local.exim.errno", event.NetworkError},
		{"mail loop", Input{Text: "554 5.4.6 Too many hops"},
			"text.network", event.NetworkError},

		// Non-bounces.
		{"arf report", Input{Text: "This is an email abuse report for an email message received from IP 192.0.2.1 on Thu, 29 Apr 2015 23:34:45 +0000"},
			"text.complaint", event.LabelComplaint},
		{"out of office", Input{Text: "I am out of the office until 02/02/2018"},
			"text.auto_reply", event.LabelAutoReply},
		{"ses suppression list", Input{Text: "Amazon SES did not send the message to this address because it is on the suppression list for your account."},
			"text.suppressed", event.Suppressed},

		// Stage, enhanced and code tiers.
		{"mail from bare", Input{Code: 550, Text: "550 Go away (in reply to MAIL FROM command)"},
			"stage.mail_from", event.SenderAddressRejected},
		{"command field", Input{Code: 554, Command: "MAIL FROM", Text: "554 Denied"},
			"text.mail_from_denied", event.SenderAddressRejected},
		{"data bare", Input{Code: 554, Command: "end of DATA", Text: "554 Rejected"},
			"stage.data", event.ContentRejected},
		{"enhanced only 5.1.1", Input{Code: 550, Enhanced: "5.1.1"},
			"enhanced.5.1.1", event.MailboxUnknown},
		{"enhanced only 5.7.1", Input{Code: 550, Enhanced: "5.7.1", Text: "Go away"},
			"enhanced.x.7", event.PolicyViolation},
		{"enhanced from text", Input{Text: "smtp; 550 5.1.1 <x@example.org>"},
			"enhanced.5.1.1", event.MailboxUnknown},
		{"enhanced 4.4.7", Input{Enhanced: "4.4.7"},
			"enhanced.x.4.7", event.LabelExpired},
		{"code disagrees with text", Input{Code: 250, Text: "552 Mailbox full"},
			"text.mailbox_full", event.MailboxFull},
		{"bare 5xx is not hard", Input{Code: 550},
			"code.5xx", event.Unknown},
		{"bare 4xx", Input{Code: 451, Text: "451 please"},
			"code.4xx", event.Unknown},
		{"nothing", Input{},
			RuleDefault, event.Unknown},

		// Outcomes and source classification.
		{"delivered", Input{Outcome: event.Delivered, Code: 250, Text: "250 2.0.0 Ok: queued as 12345"},
			RuleDelivered, event.LabelDelivered},
		{"dropped", Input{Outcome: event.Dropped},
			RuleDropped, event.Suppressed},
		{"dropped with a bare code", Input{Outcome: event.Dropped, Code: 550},
			RuleDropped, event.Suppressed},
		{"expired", Input{Outcome: event.Expired},
			RuleExpired, event.LabelExpired},
		// Outcome-aware expiry: the deciding rule stays visible.
		{"expired after connection timeouts", Input{Outcome: event.Expired, Text: "connect to mx.example.org[203.0.113.225]:25: Connection timed out"},
			"text.connect_failed", event.LabelExpired},
		{"expired after remote system errors", Input{Outcome: event.Expired, Text: "451 4.3.0 Temporary local problem - please try later"},
			"text.remote_system", event.LabelExpired},
		{"bounced after connection failures", Input{Outcome: event.Bounced, Text: "delivery temporarily suspended: connect to mx.example.com[192.0.2.1]:25: Connection timed out"},
			"text.postfix_suspended", event.LabelExpired},
		{"bounced after refused connections", Input{Outcome: event.Bounced, Text: "connect to mx.example.net[192.0.2.1]:25: Connection refused"},
			"text.connect_failed", event.LabelExpired},
		{"bounced after 4.4.1 no answer", Input{Outcome: event.Bounced, Text: "451 4.4.1 reply: read error from mx.example.com."},
			"enhanced.4.4.1", event.LabelExpired},
		{"trap: bounced mail loop keeps network_error", Input{Outcome: event.Bounced, Code: 554, Enhanced: "5.4.6", Text: "554 5.4.6 Hop count exceeded - possible mail loop"},
			"text.network", event.NetworkError},
		{"trap: bounced transient dns keeps network_error", Input{Outcome: event.Bounced, Text: "Name service error for domain example.com: Host not found, try again"},
			"text.dns_transient", event.NetworkError},
		{"deferred keeps network_error", Input{Outcome: event.Deferred, Text: "connect to mx.example.net[192.0.2.1]:25: Connection refused"},
			"text.connect_failed", event.NetworkError},
		{"bounced with a remote reply keeps its label", Input{Outcome: event.Bounced, Text: "550 5.1.1 <kijitora@example.jp>... User unknown"},
			"text.user_unknown.enhanced", event.MailboxUnknown},
		{"trap: expired keeps hard evidence", Input{Outcome: event.Expired, Code: 450, Text: "450 4.1.1 <x@example.org>: Recipient address rejected: User unknown in local recipient table"},
			"text.user_unknown", event.MailboxUnknown},
		{"expired keeps a block", Input{Outcome: event.Expired, Text: "421 4.7.0 [TSS04] Messages from 192.0.2.25 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes"},
			"provider.yahoo.deferred_volume", event.SenderBlocked},
		// Issue 13, evidence: Exchange Online's own 5.7.5xx codes keep the
		// meaning the NDR table gives each (learn.microsoft.com, "Email
		// non-delivery reports in Exchange Online").
		{"evidence: exchange online 5.7.504 recipient not valid", Input{Enhanced: "5.7.504", Text: "[user@example.com]: Recipient address rejected: Access denied"},
			"provider.microsoft.code_recipient_invalid", event.MailboxUnknown},
		{"evidence: exchange online 5.7.505 banned recipient is not valid", Input{Enhanced: "5.7.505", Text: "Access denied, banned recipient"},
			"provider.microsoft.code_recipient_invalid", event.MailboxUnknown},
		{"evidence: exchange online 5.7.506 bad helo", Input{Enhanced: "5.7.506", Text: "Access Denied, Bad HELO"},
			"provider.microsoft.code_bad_helo", event.SenderConfig},
		{"evidence: exchange online 5.7.508 ipv6 range limit", Input{Enhanced: "5.7.508", Text: "Access denied, [192.0.2.1] has exceeded permitted limits within 2001:db8::/64 range"},
			"provider.microsoft.code_ipv6_limit", event.RateLimited},
		{"evidence: exchange online 5.7.510 no email over ipv6", Input{Enhanced: "5.7.510", Text: "Access denied, [example.com] does not accept email over IPv6"},
			"provider.microsoft.code_ipv6_refused", event.PolicyViolation},
		{"evidence: exchange online 5.7.512 rfc 5322 from", Input{Enhanced: "5.7.512", Text: "Access denied, message must be RFC 5322 section 3.6.2 compliant"},
			"provider.microsoft.code_rfc5322", event.ContentRejected},
		{"evidence: exchange online 5.7.507 rejected by recipient's organization", Input{Enhanced: "5.7.507", Text: "Access denied, rejected by recipient"},
			"provider.microsoft.code_banned", event.SenderBlocked},
		// Same table: 4.7.500-699 "Access denied, please try again later" and
		// 4.7.850-899 are suspicious activity, sending temporarily restricted.
		{"evidence: exchange online 4.7.500 access denied is a temporary ban", Input{Enhanced: "4.7.500", Text: "Access denied, please try again later"},
			"provider.microsoft.code_suspicious_access_denied", event.SenderBlocked},
		{"evidence: exchange online 4.7.850 suspicious ip", Input{Enhanced: "4.7.850", Text: "Access denied, please try again later"},
			"provider.microsoft.code_suspicious_access_denied", event.SenderBlocked},
		// Same table: destination TLS, DANE and DNSSEC failures, labelled as
		// the corpus labels "Remote server does not support TLS".
		{"evidence: exchange online 5.7.321 starttls not supported", Input{Enhanced: "5.7.321", Text: "starttls-not-supported: Destination mail server must support TLS to receive mail."},
			"provider.microsoft.code_tls", event.SenderConfig},
		{"trap: exchange online 4.7.500 server busy stays throttling, access denied does not", Input{Code: 451, Enhanced: "4.7.500", Text: "451 4.7.500 Server busy. Please try again later from [192.0.2.64]. (AS750)"},
			"provider.microsoft.code_throttled", event.RateLimited},
		{"evidence: exchange online 5.7.323 dane", Input{Enhanced: "5.7.323", Text: "tlsa-invalid: The domain failed DANE validation."},
			"provider.microsoft.code_tls", event.SenderConfig},
		// Same table: recipients restricted to internal or listed senders,
		// labelled as the corpus labels RESOLVER.RST.AuthRequired.
		{"evidence: exchange online 5.7.133 group restriction", Input{Enhanced: "5.7.133", Text: "Sender not authenticated for group"},
			"provider.microsoft.code_restricted_recipient", event.PolicyViolation},
		{"evidence: exchange online 5.7.136 mail user restriction", Input{Enhanced: "5.7.136", Text: "Sender was not authenticated"},
			"provider.microsoft.code_restricted_recipient", event.PolicyViolation},
		{"evidence: exchange online 5.7.124 allowed-senders list", Input{Enhanced: "5.7.124", Text: "Sender not in allowed-senders list"},
			"provider.microsoft.code_restricted_recipient", event.PolicyViolation},
		{"evidence: exchange 5.7.12 by organization is a restriction, not our config", Input{Enhanced: "5.7.12", Text: "Sender was not authenticated by organization"},
			"text.recipient_restricted", event.PolicyViolation},
		// Same table, wording shared beyond Exchange.
		{"evidence: exchange 4.3.2 recipient thread limit is a rate", Input{Code: 432, Enhanced: "4.3.2", Text: "STOREDRV.Deliver; recipient thread limit exceeded"},
			"text.rate_limited", event.RateLimited},
		{"evidence: exchange 5.0.350 header too long", Input{Enhanced: "5.0.350", Text: "x-dg-ref header is too long"},
			"text.content_format", event.ContentRejected},
		{"evidence: exchange 5.1.8 bad outbound sender", Input{Enhanced: "5.1.8", Text: "Access denied, bad outbound sender"},
			"text.reputation", event.SenderBlocked},
		// Gmail SMTP errors and codes (support.google.com/a/answer/3726730):
		// a rate limit or block that names its cause takes the cause.
		{"evidence: gmail rate limited without tls is our config", Input{Code: 421, Enhanced: "4.7.29", Text: "Your email has been rate limited because you're not using a TLS connection. Gmail requires all bulk email senders to use TLS/SSL for SMTP connections."},
			"provider.google.tls", event.SenderConfig},
		{"evidence: gmail missing dmarc record is our config", Input{Code: 550, Enhanced: "5.7.40", Text: "Your message was blocked because the sending domain doesn't have a DMARC record or the DMARC record doesn't specify a DMARC policy. Gmail requires all bulk email senders to authenticate with DMARC."},
			"provider.google.dmarc_record", event.SenderConfig},
		{"evidence: gmail rate limited because spf did not pass is auth", Input{Code: 421, Enhanced: "4.7.27", Text: "Your email has been rate limited because SPF authentication didn't pass for this message. Gmail requires all bulk email senders to authenticate their email with SPF."},
			"provider.google.auth", event.AuthFailure},
		{"evidence: gmail ptr, contracted wording", Input{Code: 451, Enhanced: "4.7.23", Text: "The sending IP address for this message doesn't have a PTR record, or the PTR record's forward DNS entry doesn't match the sending IP address. Gmail requires all senders to have a PTR record."},
			"provider.google.ptr", event.SenderConfig},
		// Haraka (haraka/Haraka): connection.js's relay denial and default
		// DENY after DATA; plugins/data.signatures.js,
		// rcpt_to.host_list_base.js and queue/smtp_forward.js.
		{"evidence: haraka relay denied", Input{Code: 550, Text: "I cannot deliver mail for <user@example.com>"},
			"text.relay_denied", event.RelayDenied},
		{"evidence: haraka message denied", Input{Code: 554, Text: "Message denied"},
			"text.message_denied", event.ContentRejected},
		{"trap: message denied by policy stays policy", Input{Code: 554, Text: "554 5.7.1 Message denied by policy"},
			"text.policy", event.PolicyViolation},
		{"evidence: haraka spam signature", Input{Code: 550, Text: "Mail matches a known spam signature"},
			"text.spam", event.SpamContent},
		{"evidence: haraka mail from domain not allowed", Input{Code: 550, Text: "Mail from domain 'example.org' is not allowed from your host"},
			"text.sender_address", event.SenderAddressRejected},
		{"evidence: haraka spoofed mail from", Input{Code: 550, Text: "Spoofed MAIL FROM"},
			"text.sender_address", event.SenderAddressRejected},
		// Yahoo, help.yahoo.com SLN3444: "553 VS99-IP1 deferred", the SMTP
		// connection was rejected. "VS10-RT ... deactivated due to abuse" is
		// the recipient's account (PHPMailer-BMH rule 0196) and not taken.
		{"evidence: yahoo vs99-ip1 refuses our connection", Input{Code: 553, Text: "VS99-IP1 deferred"},
			"provider.yahoo.vs_code", event.SenderBlocked},
		{"trap: yahoo vs10-rt is not a block of our ip", Input{Code: 553, Enhanced: "5.1.1", Text: "553 VS10-RT Possible forgery or deactivated due to abuse (#5.1.1) 111.111.111.211"},
			"text.mailbox_inactive", event.MailboxInactive},
		// Issue 13, labels within the class. Sendmail's fixed wordings for
		// its delivery agents' exit codes (sendmail/src/sysexits.c SysExMsg:
		// EX_CANTCREAT ":550 Can't create output", EX_OSFILE ":554 System
		// file missing"; the leading colon appends strerror) and the errno
		// string it appends to "Deferred" (EX_TEMPFAIL) or to deliver.c's
		// "cannot open %s: %s" name the receiving host's own failure.
		{"evidence: sendmail ex_cantcreat is the remote system", Input{Text: "\"|/usr/local/bin/mailfilt -u #dkms\" (reason: Can't create output) (expanded from: <x@example.org>)"},
			"text.remote_system", event.RemoteSystemError},
		{"evidence: sendmail ex_osfile is the remote system", Input{Code: 554, Text: "554 5.3.0 <x@example.org>... System file missing"},
			"text.remote_system", event.RemoteSystemError},
		{"evidence: sendmail deferred with an errno is the remote system", Input{Text: "x@example.org... Deferred: No such file or directory"},
			"text.remote_system", event.RemoteSystemError},
		// Same table: EX_UNAVAILABLE " 554 Service unavailable" ends any 554
		// Sendmail sends (a full mailbox, a blocklist), so it names no cause.
		{"trap: sendmail's bare service unavailable names no cause", Input{Code: 554, Text: "554 5.0.0 Service unavailable"},
			"code.5xx", event.Unknown},
		// RFC 5321 4.2.3: "421 <domain> Service not available, closing
		// transmission channel" is the server's own state; so is a service
		// the server calls currently unavailable, whatever the code.
		{"evidence: service currently unavailable is the remote system", Input{Code: 554, Text: "Failed to send to identified host, x@example.org: [192.0.2.2], 554 Service currently unavailable"},
			"text.remote_system", event.RemoteSystemError},
		// RFC 3464 2.3.3: Action "delayed" means the MTA "will continue to
		// attempt" delivery; a delay notice that names no cause of its own
		// is labelled as the other delay wordings ("has been delayed").
		{"evidence: delay notice without a cause", Input{Enhanced: "4.4.0", Text: "This is only a notification about a delay in the delivery of your message. There is no need to resend your message at this time. Action: Delayed - The server will continue trying for up to 21 hours. other or undefined network or routing status"},
			"text.expired", event.LabelExpired},
		{"trap: delay notice naming a full mailbox keeps it", Input{Text: "This is only a notification about a delay in the delivery of your message. 452 4.2.2 <x@example.org>: Mailbox full"},
			"text.mailbox_full", event.MailboxFull},
		// RFC 4954 6: 5.7.8 and 5.7.9 are AUTH replies ("535 5.7.8
		// Authentication credentials invalid", "534 5.7.9 Authentication
		// mechanism is too weak"). On a refusal of a message the code is the
		// X.7 policy catch-all: Yahoo, help.yahoo.com SLN7253, "554 5.7.9
		// Message not accepted for policy reasons".
		{"evidence: 5.7.9 refusing a message is policy, not auth", Input{Code: 550, Enhanced: "5.7.9", Text: "550 5.7.9 Rejected"},
			"enhanced.x.7.9.refusal", event.PolicyViolation},
		{"trap: 535 5.7.8 stays an auth reply", Input{Code: 535, Enhanced: "5.7.8"},
			"enhanced.x.7.8", event.SenderConfig},
		{"sendgrid spamreport", Input{SourceScheme: "sendgrid.event", SourceValue: "spamreport"},
			RuleComplaint, event.LabelComplaint},
		{"ses complaint", Input{SourceScheme: "ses.notificationType", SourceValue: "Complaint"},
			RuleComplaint, event.LabelComplaint},
		{"old-style complaint: outcome delivered with the source's verdict", Input{Outcome: event.Delivered, SourceScheme: "ses.notificationType", SourceValue: "Complaint"},
			RuleComplaint, event.LabelComplaint},
		// Outcome complaint (ARF reports from bounced mail, ESP spam reports)
		// decides before every rule: the report may quote a bounce.
		{"outcome complaint", Input{Outcome: event.Complaint},
			RuleOutcomeComplaint, event.LabelComplaint},
		{"outcome complaint with the source's verdict", Input{Outcome: event.Complaint, SourceScheme: "sendgrid.event", SourceValue: "spamreport"},
			RuleOutcomeComplaint, event.LabelComplaint},
		{"trap: outcome complaint quoting a bounce", Input{Outcome: event.Complaint, Code: 550, Enhanced: "5.1.1", Text: "550 5.1.1 <user@example.org>: Recipient address rejected: User unknown in virtual mailbox table"},
			RuleOutcomeComplaint, event.LabelComplaint},
		{"trap: outcome complaint from a provider domain", Input{Outcome: event.Complaint, Domain: "gmail.com", Text: "This is an email abuse report for an email message received from IP 192.0.2.25 on Thu, 8 Mar 2026 14:00:00 +0000"},
			RuleOutcomeComplaint, event.LabelComplaint},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		if seen[tt.name] {
			t.Fatalf("duplicate test name %q", tt.name)
		}
		seen[tt.name] = true
		t.Run(tt.name, func(t *testing.T) {
			got := c.Classify(tt.in)
			if got.Rule != tt.rule || got.Label != tt.want {
				t.Errorf("Classify = %s/%s, want %s/%s", got.Rule, got.Label, tt.rule, tt.want)
			}
			class, scope, _ := tt.want.Taxonomy()
			if got.Class != class || got.Scope != scope {
				t.Errorf("class/scope = %s/%s, want %s/%s", got.Class, got.Scope, class, scope)
			}
		})
	}
}

func TestLocalFlag(t *testing.T) {
	c := defaultClassifier(t)
	for _, text := range []string{
		"KumoMTA internal: failed to resolve MX",
		"delivery temporarily suspended: connect to mx.example.com[192.0.2.1]:25: Connection timed out",
		"R=dnslookup T=remote_smtp defer (-53): retry time not reached for any host",
	} {
		v := c.Classify(Input{Text: text})
		if !v.Local || v.Class == event.ClassHard {
			t.Errorf("%q: %+v, want a local, non-hard verdict", text, v)
		}
	}
	if v := c.Classify(Input{Text: "550 5.1.1 User unknown"}); v.Local {
		t.Errorf("remote reply marked local: %+v", v)
	}
}

func TestAttempt(t *testing.T) {
	c := defaultClassifier(t)
	a := &event.Attempt{
		Recipient:  "someone@Gmail.com",
		Outcome:    event.Bounced,
		SMTP:       event.SMTP{Code: 550, Enhanced: "5.2.1"},
		Diagnostic: "The email account that you tried to reach is disabled.",
	}
	if v := c.Attempt(a); v.Rule != "provider.google.disabled" {
		t.Errorf("Attempt: %+v, want provider.google.disabled via the recipient domain", v)
	}
	in := InputOf(&event.Attempt{Recipient: "x@example.org", SMTP: event.SMTP{Text: "550 User unknown"}, Diagnostic: "smtp; 550 User unknown"})
	if in.Text != "smtp; 550 User unknown" || in.Domain != "example.org" {
		t.Errorf("InputOf = %+v", in)
	}
	in = InputOf(&event.Attempt{SMTP: event.SMTP{Text: "550 rejected"}, Diagnostic: "user unknown in local table"})
	if !strings.Contains(in.Text, "550 rejected") || !strings.Contains(in.Text, "user unknown") {
		t.Errorf("InputOf did not join text and diagnostic: %q", in.Text)
	}
}

func TestClassifyDoesNotAllocate(t *testing.T) {
	c := defaultClassifier(t)
	in := Input{Code: 550, Text: "host mx.example.jp[192.0.2.22] said: 550-5.1.1 <kijitora@example.jp>: Recipient address rejected: User unknown in local recipient table (in reply to RCPT TO command)", Domain: "example.jp"}
	c.Classify(in)
	if n := testing.AllocsPerRun(100, func() { c.Classify(in) }); n != 0 {
		t.Errorf("Classify allocates %v times per call", n)
	}
}

func BenchmarkClassify(b *testing.B) {
	data, err := os.ReadFile(corpusPath)
	if err != nil {
		b.Skipf("corpus not found: %v", err)
	}
	c := defaultClassifier(b)
	var inputs []Input
	var size int64
	for i, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, "\t")
		if i == 0 || len(f) < 5 {
			continue
		}
		inputs = append(inputs, Input{Enhanced: f[3], Text: f[4]})
		size += int64(len(f[4]))
	}
	b.SetBytes(size / int64(len(inputs)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		c.Classify(inputs[i%len(inputs)])
	}
}

// BenchmarkClassifyReply measures what production events carry: a single
// reply line (smtp.text) with its code, not a whole DSN body. The replies
// are the SMTP replies quoted in the corpus rows, cut at the end of the
// first line that starts with a reply code.
func BenchmarkClassifyReply(b *testing.B) {
	data, err := os.ReadFile(corpusPath)
	if err != nil {
		b.Skipf("corpus not found: %v", err)
	}
	c := defaultClassifier(b)
	var inputs []Input
	var size int64
	for i, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, "\t")
		if i == 0 || len(f) < 5 {
			continue
		}
		text := replyOf(f[4])
		if text == "" {
			continue
		}
		inputs = append(inputs, Input{Enhanced: f[3], Text: text, Domain: "example.org"})
		size += int64(len(text))
	}
	if len(inputs) == 0 {
		b.Skip("no replies in the corpus")
	}
	b.SetBytes(size / int64(len(inputs)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		c.Classify(inputs[i%len(inputs)])
	}
}

// replyOf returns the part of a corpus text from its first "4xx "/"5xx "
// reply code on, at most 200 bytes: the shape of smtp.text.
func replyOf(s string) string {
	for i := 0; i+4 <= len(s); i++ {
		if c := reply.Code(s[i:]); (c/100 == 4 || c/100 == 5) && (i == 0 || s[i-1] == ' ') {
			s = s[i:]
			if len(s) > 200 {
				s = s[:200]
			}
			return s
		}
	}
	return ""
}
