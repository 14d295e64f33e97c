package mail

import (
	"testing"

	"github.com/bounced-dev/bounced/processor/ingest/raw"
)

// BenchmarkDecodeDSN decodes one real Postfix-style DSN with its original
// headers attached.
func BenchmarkDecodeDSN(b *testing.B) {
	body := readFile(b, "testdata/google_dsn.eml")
	d := New(Config{})
	rec := raw.Record{Payload: body, Received: received}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, _, err := d.Decode(rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeText decodes one non-standard (qmail) bounce.
func BenchmarkDecodeText(b *testing.B) {
	body := readFile(b, "testdata/qmail.eml")
	d := New(Config{})
	rec := raw.Record{Payload: body, Received: received}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, _, err := d.Decode(rec); err != nil {
			b.Fatal(err)
		}
	}
}
