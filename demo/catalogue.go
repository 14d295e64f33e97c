package demo

import "github.com/bounced-dev/bounced/processor/event"

// reply is a template of a remote server's answer. The text may hold the
// placeholders {addr} (the recipient as sent in RCPT TO), {domain}, {ip}
// (our sending IP), {mid} (the message id), {ts} (Unix time) and the random
// tokens {tok}, {qid} and {num}. label is what a correct classifier says; it
// is kept for this package's tests, never written out.
type reply struct {
	code  int
	enh   string
	text  string
	cmd   string
	label event.Label
}

// provider is how a mailbox provider's MX behaves. A provider without hard
// replies never gets a hard fate: only replies whose wording is unambiguous
// are used for the truth.
type provider struct {
	name      string
	mx        string
	mxIP      string
	ok        reply
	hard      []reply // first is mailbox_unknown; others rarer
	full      reply   // 4xx mailbox full, deferred
	full5     reply   // 5xx mailbox full, bounced, still soft
	rate      *reply  // throttling deferral, if the provider does it
	greylists bool
	blocks    bool // rejects with a DNSBL (Spamhaus) response
}

var (
	greylist = reply{451, "4.7.1", "Greylisting in action, please come back later", "RCPT TO", event.Greylisted}

	spamhaus = []reply{
		{550, "5.7.1", "Service unavailable; Client host [{ip}] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/{ip}", "RCPT TO", event.SenderBlocked},
		{554, "5.7.1", "Service unavailable; Client host [{ip}] blocked using zen.spamhaus.org; {ip} listed at Spamhaus", "RCPT TO", event.SenderBlocked},
	}

	domainUnknown = reply{550, "5.1.2", "Host or domain name not found. Name service error for name={domain} type=MX: Host not found", "", event.DomainUnknown}

	postfixOK       = reply{250, "2.0.0", "Ok: queued as {qid}", "", event.LabelDelivered}
	postfixUnknown  = reply{550, "5.1.1", "<{addr}>: Recipient address rejected: User unknown in virtual mailbox table", "RCPT TO", event.MailboxUnknown}
	postfixFull     = reply{452, "4.2.2", "<{addr}>: Recipient address rejected: Mailbox full", "RCPT TO", event.MailboxFull}
	plainFull5      = reply{552, "5.2.2", "Mailbox full", "RCPT TO", event.MailboxFull}
	quotaExceeded   = reply{452, "4.2.2", "Mailbox quota exceeded, please try again later", "RCPT TO", event.MailboxFull}
	quotaExceeded5  = reply{552, "5.2.2", "Mailbox quota exceeded", "RCPT TO", event.MailboxFull}
	yahooThrottling = reply{421, "4.7.0", "[TSS04] Messages from {ip} temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes", "", event.RateLimited}
	msThrottling    = reply{451, "4.7.500", "Server busy. Please try again later from [{ip}]. (S77714) [{mshost}]", "", event.RateLimited}
)

var (
	google = &provider{
		name: "google", mx: "gmail-smtp-in.l.google.com", mxIP: "203.0.113.26",
		ok: reply{250, "2.0.0", "OK  {ts} {tok}.{num} - gsmtp", "", event.LabelDelivered},
		hard: []reply{
			{550, "5.1.1", "The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces. For more information, go to https://support.google.com/mail/?p=NoSuchUser {tok}.{num} - gsmtp", "RCPT TO", event.MailboxUnknown},
			{550, "5.2.1", "The email account that you tried to reach is disabled. Learn more at https://support.google.com/mail/?p=DisabledUser {tok}.{num} - gsmtp", "RCPT TO", event.MailboxInactive},
		},
		full:  reply{452, "4.2.2", "The email account that you tried to reach is over quota. Please direct the recipient to https://support.google.com/mail/?p=OverQuotaTemp {tok}.{num} - gsmtp", "RCPT TO", event.MailboxFull},
		full5: reply{552, "5.2.2", "The email account that you tried to reach is over quota. Please direct the recipient to https://support.google.com/mail/?p=OverQuotaPerm {tok}.{num} - gsmtp", "RCPT TO", event.MailboxFull},
	}
	yahoo = &provider{
		name: "yahoo", mx: "mta6.am0.yahoodns.net", mxIP: "203.0.113.72",
		ok:    reply{250, "", "ok dirdel", "", event.LabelDelivered},
		full:  quotaExceeded,
		full5: quotaExceeded5,
		rate:  &yahooThrottling,
	}
	microsoft = &provider{
		name: "microsoft", mx: "hotmail-com.olc.protection.outlook.com", mxIP: "203.0.113.41",
		ok: reply{250, "2.6.0", "{mid} [InternalId={num}, Hostname={mshost}] Queued mail for delivery", "", event.LabelDelivered},
		hard: []reply{
			{550, "5.1.10", "RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup", "RCPT TO", event.MailboxUnknown},
		},
		full:  reply{452, "4.2.2", "The recipient's mailbox is full and can't accept messages now. Please try resending later. [{mshost}]", "RCPT TO", event.MailboxFull},
		full5: reply{552, "5.2.2", "STOREDRV.Deliver: mailbox full. [{mshost}]", "DATA", event.MailboxFull},
		rate:  &msThrottling,
	}
	apple = &provider{
		name: "apple", mx: "mx01.mail.icloud.com", mxIP: "203.0.113.17",
		ok: reply{250, "2.0.0", "Ok: queued as {qid}", "", event.LabelDelivered},
		hard: []reply{
			{550, "5.1.1", "<{addr}>: user does not exist", "RCPT TO", event.MailboxUnknown},
		},
		full:  reply{452, "4.2.2", "<{addr}>: user is over quota", "RCPT TO", event.MailboxFull},
		full5: reply{552, "5.2.2", "<{addr}>: user is over quota", "RCPT TO", event.MailboxFull},
	}
	unitedInternet = &provider{
		name: "united-internet", mx: "mx00.gmx.net", mxIP: "203.0.113.212",
		ok:     reply{250, "", "Requested mail action okay, completed: id={tok}", "", event.LabelDelivered},
		full:   quotaExceeded,
		full5:  plainFull5,
		blocks: true,
	}
	mailru = &provider{
		name: "mailru", mx: "mxs.mail.ru", mxIP: "203.0.113.94",
		ok:        reply{250, "", "OK id={tok}", "", event.LabelDelivered},
		full:      postfixFull,
		full5:     plainFull5,
		greylists: true,
		blocks:    true,
	}
	yandex = &provider{
		name: "yandex", mx: "mx.yandex.ru", mxIP: "203.0.113.77",
		ok:     reply{250, "2.0.0", "Ok: queued on mail-nwsmtp-mxfront-production-main-{num}.vla.yp-c.yandex.net {ts}-{tok}", "", event.LabelDelivered},
		full:   quotaExceeded,
		full5:  plainFull5,
		blocks: true,
	}
	comcast = &provider{
		name: "comcast", mx: "mx1a1.comcast.net", mxIP: "203.0.113.68",
		ok:     reply{250, "2.0.0", "{tok} mail accepted for delivery", "", event.LabelDelivered},
		full:   quotaExceeded,
		full5:  plainFull5,
		blocks: true,
	}
	mimecast = &provider{
		name: "mimecast", mx: "eu-smtp-inbound-1.mimecast.com", mxIP: "203.0.113.150",
		ok:        reply{250, "", "Ok {ts}-{tok}", "", event.LabelDelivered},
		full:      postfixFull,
		full5:     plainFull5,
		greylists: true,
		blocks:    true,
	}
	proofpoint = &provider{
		name: "proofpoint", mx: "mx0a-00123401.pphosted.com", mxIP: "203.0.113.134",
		ok: reply{250, "2.0.0", "{tok}-1 Message accepted for delivery", "", event.LabelDelivered},
		hard: []reply{
			{550, "5.1.1", "User Unknown", "RCPT TO", event.MailboxUnknown},
		},
		full:   postfixFull,
		full5:  plainFull5,
		blocks: true,
	}
	postfix = &provider{
		name: "postfix", mx: "mail.{domain}", mxIP: "203.0.113.201",
		ok:        postfixOK,
		hard:      []reply{postfixUnknown},
		full:      postfixFull,
		full5:     plainFull5,
		greylists: true,
		blocks:    true,
	}
	// nowhere is a domain without MX: every send fails at once, locally.
	nowhere = &provider{name: "nxdomain"}
)

// domainSpec is a recipient domain as written in address lists.
type domainSpec struct {
	name   string // as written: the IDN one in Unicode
	weight int    // per mille of recipients
	prov   *provider
}

// domains is the recipient mix. The weights roughly follow a European B2C
// list; the three domains without MX are typos and a dead company.
var domains = []domainSpec{
	{"gmail.com", 300, google},
	{"googlemail.com", 20, google},
	{"yahoo.com", 90, yahoo},
	{"aol.com", 30, yahoo},
	{"outlook.com", 90, microsoft},
	{"hotmail.com", 80, microsoft},
	{"icloud.com", 60, apple},
	{"gmx.de", 60, unitedInternet},
	{"web.de", 50, unitedInternet},
	{"mail.ru", 40, mailru},
	{"yandex.ru", 30, yandex},
	{"comcast.net", 40, comcast},
	{"northwind-traders.example", 25, mimecast},
	{"fabrikam.example", 20, proofpoint},
	{"tailspin-toys.example", 15, proofpoint},
	{"münchen.example", 15, postfix},
	{"gmial.com", 5, nowhere},
	{"yahooo.com", 3, nowhere},
	{"defunct-startup.example", 5, nowhere},
}

var firstNames = []string{
	"anna", "ben", "clara", "david", "emma", "felix", "greta", "hannah", "ivan", "julia",
	"karl", "lena", "max", "nina", "olga", "paul", "quinn", "rosa", "sven", "tanja",
	"ulrich", "vera", "wei", "xenia", "yusuf", "zoe", "james", "mary", "john", "linda",
	"michael", "sarah", "dmitri", "natasha", "sophie", "lukas", "mia", "noah", "amelia", "oliver",
	"jose", "maria", "ahmed", "fatima", "kenji", "yuki", "priya", "arjun", "chloe", "liam",
}

var lastNames = []string{
	"mueller", "schmidt", "schneider", "fischer", "weber", "meyer", "wagner", "becker", "hoffmann", "koch",
	"smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis", "wilson", "taylor",
	"ivanov", "smirnov", "kuznetsova", "popov", "volkova", "novak", "kowalski", "nowak", "rossi", "russo",
	"martin", "bernard", "dubois", "leroy", "moreau", "silva", "santos", "tanaka", "sato", "kim",
	"lee", "chen", "wang", "singh", "patel", "nguyen", "oconnor", "murphy", "larsen", "jensen",
}

// campaign is one mailing: sent at hour each period days from offset.
type campaign struct {
	name           string
	hour           int
	period, offset int
	pool           string
}

// campaignBase are the first six campaigns; more are made up.
var campaignBase = []struct {
	slug                 string
	hour, period, offset int
}{
	{"welcome", 8, 1, 0},
	{"weekly-digest", 10, 7, 0},
	{"product-update", 13, 3, 1},
	{"autumn-sale", 16, 2, 0},
	{"reactivation", 19, 2, 1},
	{"survey", 21, 4, 2},
}
