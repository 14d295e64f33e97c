package esp

import (
	"testing"

	"github.com/bounced-dev/bounced/processor/ingest/raw"
)

// benchDecode measures one real body per provider, end to end.
func benchDecode(b *testing.B, kind, sample string) {
	body := readSample(b, "testdata/"+sample+".txt")
	d := decoders(Config{})[kind]
	rec := raw.Record{Payload: body}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, _, err := d.Decode(rec); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeSES(b *testing.B)      { benchDecode(b, KindSES, "ses_bounce_sns") }
func BenchmarkDecodeSendGrid(b *testing.B) { benchDecode(b, KindSendGrid, "sendgrid_gist_batch") }
func BenchmarkDecodeMailgun(b *testing.B)  { benchDecode(b, KindMailgun, "mailgun_failed_permanent") }
func BenchmarkDecodePostmark(b *testing.B) { benchDecode(b, KindPostmark, "postmark_bounce") }
func BenchmarkDecodePostal(b *testing.B)   { benchDecode(b, KindPostal, "postal_failed_smtp") }
