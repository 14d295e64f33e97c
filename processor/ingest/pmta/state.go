package pmta

// MaxSources bounds the number of sources (host and file) whose header is
// remembered; past it the table is cleared and headers are learnt again
// from the next header line (or Config.Header). Rotated files get new
// names, so without a bound the table would only grow.
const MaxSources = 4096

func (d *Decoder) setHeader(src source, names []string) {
	if _, ok := d.headers[src]; !ok && len(d.headers) >= MaxSources {
		clear(d.headers)
	}
	d.headers[src] = newHeader(names)
}

// State is what a Decoder must remember across a restart: the header in
// force for each source. Without it, data lines read after a restart
// (before the next header line) cannot be decoded.
type State struct {
	Headers []HeaderState `json:"headers"`
}

// HeaderState is the header of one source.
type HeaderState struct {
	Host    string   `json:"host,omitempty"`
	File    string   `json:"file,omitempty"`
	Columns []string `json:"columns"`
}

// Snapshot returns a copy of the decoder's state.
func (d *Decoder) Snapshot() State {
	s := State{Headers: make([]HeaderState, 0, len(d.headers))}
	for src, h := range d.headers {
		s.Headers = append(s.Headers, HeaderState{Host: src.host, File: src.file, Columns: append([]string(nil), h.names...)})
	}
	return s
}

// Restore replaces the decoder's state with s, as taken by Snapshot.
func (d *Decoder) Restore(s State) {
	d.headers = make(map[source]*header, len(s.Headers))
	for _, h := range s.Headers {
		if len(h.Columns) > 0 {
			d.setHeader(source{h.Host, h.File}, append([]string(nil), h.Columns...))
		}
	}
}
