package clickhouse

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func TestSplitStatements(t *testing.T) {
	got := splitStatements(`-- header; with a semicolon
CREATE TABLE a (x String DEFAULT 'a;b', y String DEFAULT 'it\'s; fine') ENGINE = Memory; -- trailing
CREATE VIEW "v;w" AS SELECT ` + "`c;d`" + ` FROM a;
-- only a comment at the end;
`)
	want := []string{
		"CREATE TABLE a (x String DEFAULT 'a;b', y String DEFAULT 'it\\'s; fine') ENGINE = Memory",
		"CREATE VIEW \"v;w\" AS SELECT `c;d` FROM a",
	}
	if !slices.Equal(got, want) {
		t.Errorf("splitStatements:\n got %q\nwant %q", got, want)
	}
}

func TestLoadMigrations(t *testing.T) {
	fsys := fstest.MapFS{
		"m/002_b.sql":        {Data: []byte("SELECT 2;")},
		"m/001_a.sql":        {Data: []byte("-- portable\nSELECT 1; SELECT 11;")},
		"m/010_c_modern.sql": {Data: []byte("-- bounced:modern\nSELECT 10;")},
		"m/011_d_modern.sql": {Data: []byte("-- bounced:modern 23\nSELECT 11;")},
		"m/README.md":        {Data: []byte("ignored")},
	}
	ms, err := loadMigrations(fsys, "m")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, m.Name+":"+strings.Join(m.Statements, "|")+":"+fmt.Sprintf("%02d", m.MinMajor))
	}
	want := []string{"001_a:SELECT 1|SELECT 11:00", "002_b:SELECT 2:00", "010_c_modern:SELECT 10:20", "011_d_modern:SELECT 11:23"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}

	for name, bad := range map[string]fstest.MapFS{
		"no number":  {"m/x_a.sql": {Data: []byte("SELECT 1")}},
		"duplicate":  {"m/001_a.sql": {Data: []byte("SELECT 1")}, "m/1_b.sql": {Data: []byte("SELECT 1")}},
		"empty":      {"m/001_a.sql": {Data: []byte("-- nothing")}},
		"old marker": {"m/001_a.sql": {Data: []byte("-- bounced:modern 18\nSELECT 1")}},
	} {
		if _, err := loadMigrations(bad, "m"); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// The embedded files must parse, and every portable file must avoid syntax
// 18.16 rejects (a cheap guard; the real check is Migrate against 18.16).
func TestEmbeddedMigrations(t *testing.T) {
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 {
		t.Fatal("no embedded migrations")
	}
	for _, m := range ms {
		if m.MinMajor != 0 {
			continue
		}
		for _, s := range m.Statements {
			u := strings.ToUpper(s)
			for _, modern := range []string{" TTL ", "ADD INDEX", "MODIFY SETTING", "POPULATE", "DATETIME64", "IPV4", "ALLOW_EXPERIMENTAL"} {
				if strings.Contains(u, modern) {
					t.Errorf("%s: portable migration uses %s", m.Name, strings.TrimSpace(modern))
				}
			}
		}
	}
}
