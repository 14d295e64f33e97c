package demo

import (
	"fmt"
	"strings"
	"time"
)

// badKind is one way a record can be malformed. value gets a plausible
// timestamp, recipient and message id to wrap the defect in.
type badKind struct {
	why   string
	value func(at, rcpt, mid string) string
}

// badHost is the source.host of every malformed record; its key is random.
const badHost = "mta1.mail.example.net"

// badEvent renders a plausible canonical event with the given recipient and
// outcome fields spliced in verbatim (so they can be wrong).
func badEvent(at, rcptField, outcome, mid, extra string) string {
	return `{"occurred_at":"` + at + `",` + rcptField + `"outcome":` + outcome +
		`,"source":{"kind":"generic","host":"` + badHost + `"},"message_id":"` + mid +
		`","campaign_id":"c-broken","attempt":1,"smtp":{"code":250,"enhanced":"2.0.0","text":"Ok"}` + extra + `}`
}

var badKinds = []badKind{
	{"invalid JSON (truncated object)", func(at, r, m string) string { return `{"recipient":` }},
	{"a JSON array, not an object", func(at, r, m string) string { return `["delivered",` + `"` + r + `",1]` }},
	{"missing recipient", func(at, r, m string) string { return badEvent(at, ``, `"delivered"`, m, "") }},
	{"invalid address: no @", func(at, r, m string) string {
		return badEvent(at, `"recipient":"not-an-address",`, `"bounced"`, m, "")
	}},
	{"invalid address: two @", func(at, r, m string) string { return badEvent(at, `"recipient":"a@b@c",`, `"delivered"`, m, "") }},
	{"invalid address: empty domain", func(at, r, m string) string {
		return badEvent(at, `"recipient":"user@",`, `"deferred"`, m, "")
	}},
	{"unknown outcome", func(at, r, m string) string {
		return badEvent(at, `"recipient":"`+r+`",`, `"exploded"`, m, "")
	}},
	{"occurred_at is not RFC 3339", func(at, r, m string) string {
		t, _ := time.Parse(time.RFC3339, at)
		return badEvent(t.Format(time.Stamp), `"recipient":"`+r+`",`, `"delivered"`, m, "")
	}},
	{"recipient contains a NUL byte", func(at, r, m string) string {
		return badEvent(at, `"recipient":"`+strings.Replace(r, "@", `\u0000@`, 1)+`",`, `"delivered"`, m, "")
	}},
	{"recipient contains an ANSI escape sequence", func(at, r, m string) string {
		return badEvent(at, `"recipient":"\u001b[2J\u001b[31m`+r+`",`, `"bounced"`, m, "")
	}},
	{"recipient is not a string", func(at, r, m string) string { return badEvent(at, `"recipient":42,`, `"delivered"`, m, "") }},
	{"record of 2 MiB, over the size limit", func(at, r, m string) string {
		return badEvent(at, `"recipient":"`+r+`",`, `"bounced"`, m, `,"diagnostic":"`+strings.Repeat("A", 2<<20)+`"`)
	}},
}

// badRecords makes cfg.BadRecords malformed records, cycling through every
// kind; the 2 MiB record appears at most once.
func (g *generator) badRecords() []Record {
	var out []Record
	for i := 0; len(out) < g.cfg.BadRecords; i++ {
		k := badKinds[i%len(badKinds)]
		if i >= len(badKinds) && strings.HasPrefix(k.why, "record of 2 MiB") {
			continue
		}
		r := g.recips[g.rng.IntN(len(g.recips))]
		at := g.cfg.Start.Add(time.Duration(g.rng.IntN(g.cfg.Days*24*3600)) * time.Second).Format(time.RFC3339)
		mid := fmt.Sprintf("<broken.%s@mail.example.net>", g.token(12, "0123456789ABCDEF"))
		out = append(out, Record{
			Host:  g.hosts[g.rng.IntN(len(g.hosts))], // a shipper does not know the record is bad
			Value: []byte(k.value(at, r.norm, mid)),
			Bad:   k.why,
		})
	}
	return out
}
