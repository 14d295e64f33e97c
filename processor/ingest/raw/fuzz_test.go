package raw

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// seeds are the golden inputs: real records in every envelope and form.
func seeds(f *testing.F) [][]byte {
	f.Helper()
	paths, _ := filepath.Glob("testdata/envelopes/*.txt")
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if l := sc.Bytes(); len(l) > 0 && l[0] != '#' {
				out = append(out, bytes.Clone(l))
			}
		}
	}
	return append(out,
		[]byte(""), []byte("   "), []byte("{"), []byte("[{"), []byte(`{"message":"\ud83d"}`),
		[]byte(`<22>1 - - - - - [a b="\]"]`), []byte("Feb 29 00:00:00 h p[1]: x"), []byte(`{"message":{"a":[}`),
		// strict: repeated keys, times that are not times, years outside 1990..2100
		[]byte(`{"message":"a","message":"b"}`), []byte(`{"message":"a","messag\u0065":"b","host":"h"}`),
		[]byte(`{"@timestamp":"2024-04-05T16:41:55Z","agent":{},"log":{"file":{"path":"/a","path":"/b"}},"message":"x"}`),
		[]byte(`{"@timestamp":"2024-04-05T16:41:55Z","agent":{},"host":{"name":"a","name":"b"},"message":"x"}`),
		[]byte(`{"host":"mx","message":"x","timestamp":"yesterday"}`), []byte(`{"date":0,"log":"x"}`),
		[]byte(`{"host":"mx","message":"x","timestamp":"0000-04-05T16:41:54Z"}`), []byte(`{"date":{"a":1},"log":"x"}`),
		[]byte(`{"host":"mx","message":"x","timestamp":null}`),
		[]byte("<22>1 0000-04-05T16:41:54Z mx postfix 1 - - x"), []byte("0000-04-05T16:41:54+02:00 mx postfix/smtp[1]: x"),
		[]byte("2100-01-01T00:00:00Z mx postfix/smtp[1]: x"), []byte("1989-12-31T23:59:59Z mx p[1]: x"),
	)
}

var formats = map[string]bool{"": true, FormatCanonical: true, FormatKumoMTA: true, FormatSES: true, FormatSendGrid: true,
	FormatMailgun: true, FormatPostmark: true, FormatPostfix: true, FormatExim: true, FormatPMTA: true, FormatPostal: true}

// FuzzUnwrap: any value yields a Record with a payload or an *Error with a
// Reason, never a panic, and Detect on the Record names a known format.
func FuzzUnwrap(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s, int64(1712361600), uint8(0))
	}
	f.Add([]byte("Dec 31 23:59:59 h p[1]: x"), int64(1704067200), uint8(1))
	f.Add([]byte("Jan  1 00:00:00 h p[1]: x"), int64(0), uint8(2))
	cfgs := []Config{
		Config{MaxBytes: 1024}.WithDefaults(),
		Config{Zone: "Europe/Berlin"}.WithDefaults(),
		Config{Zone: "Pacific/Kiritimati"}.WithDefaults(),
		{}, // unresolved: the lazy path
	}
	f.Fuzz(func(t *testing.T, value []byte, recvUnix int64, zone uint8) {
		received := time.Time{}
		if recvUnix != 0 {
			received = time.Unix(recvUnix%(1<<36), 0)
		}
		orig := bytes.Clone(value)
		rec, err := Unwrap(cfgs[int(zone)%len(cfgs)], value, received)
		if !bytes.Equal(orig, value) {
			t.Fatal("Unwrap changed its input")
		}
		if err != nil {
			var re *Error
			if !errors.As(err, &re) || re.Reason == "" {
				t.Fatalf("error %v is not an *Error with a Reason", err)
			}
			return
		}
		if len(rec.Payload) == 0 {
			t.Fatal("no error and no payload")
		}
		if !rec.Time.IsZero() && rec.Time.Location() != time.UTC {
			t.Fatalf("time %v not in UTC", rec.Time)
		}
		if rec.Time.IsZero() != (rec.TimeSource == "") {
			t.Fatalf("time %v with source %q", rec.Time, rec.TimeSource)
		}
		if t0 := bytes.TrimSpace(value); len(t0) > 0 && t0[0] == '[' && !bytes.Equal(rec.Payload, value) {
			t.Fatal("a JSON array was not passed through")
		}
		if got := Detect(rec); !formats[got] {
			t.Fatalf("Detect = %q", got)
		}
	})
}

// FuzzDetect: any payload and program give a known format or "".
func FuzzDetect(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s, "")
	}
	f.Add([]byte("39D9336AFA81: x"), "postfix/smtp")
	f.Add([]byte("x"), "exim")
	f.Add([]byte("x"), "a/")
	f.Fuzz(func(t *testing.T, payload []byte, program string) {
		if got := Detect(Record{Payload: payload, Program: program}); !formats[got] {
			t.Fatalf("Detect = %q", got)
		}
	})
}
