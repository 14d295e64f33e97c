package config

import "testing"

// http.pprof is off unless a layer turns it on.
func TestPprofSetting(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		environ []string
		want    bool
	}{
		{"default", nil, nil, false},
		{"environment", nil, []string{"BOUNCED_HTTP_PPROF=true"}, true},
		{"set", []string{"--set", "http.pprof=true"}, nil, true},
		{"flag over environment", []string{"--set", "http.pprof=false"}, []string{"BOUNCED_HTTP_PPROF=true"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, tc.args, tc.environ)
			if err != nil {
				t.Fatal(err)
			}
			if c.HTTP.Pprof != tc.want {
				t.Errorf("http.pprof = %v, want %v", c.HTTP.Pprof, tc.want)
			}
			if len(c.Warnings) > 0 {
				t.Errorf("warnings: %v", c.Warnings)
			}
		})
	}
	if _, err := load(t, []string{"--set", "http.pprof=maybe"}, nil); err == nil {
		t.Error("http.pprof=maybe loaded; want an error")
	}
}
