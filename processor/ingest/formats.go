package ingest

import (
	"encoding/json"
	"sort"

	"github.com/bounced-dev/bounced/processor/ingest/esp"
	"github.com/bounced-dev/bounced/processor/ingest/exim"
	"github.com/bounced-dev/bounced/processor/ingest/kumo"
	"github.com/bounced-dev/bounced/processor/ingest/mail"
	"github.com/bounced-dev/bounced/processor/ingest/pmta"
	"github.com/bounced-dev/bounced/processor/ingest/postfix"
	"github.com/bounced-dev/bounced/processor/ingest/raw"
)

// Adapters holds each format's settings (keys ingest.postfix.*, …).
type Adapters struct {
	Postfix postfix.Config `koanf:"postfix"`
	Exim    exim.Config    `koanf:"exim"`
	PMTA    pmta.Config    `koanf:"pmta"`
	KumoMTA kumo.Config    `koanf:"kumomta"`
	ESP     esp.Config     `koanf:"esp"`
	Mail    mail.Config    `koanf:"mail"`
}

// adapters lists the formats bounced reads besides canonical JSON, each with
// the constructor of its adapter; a session makes one of each it meets.
func adapters(cfg Config) map[string]func() Adapter {
	ex, pm := cfg.Exim, cfg.PMTA
	if ex.TimeZone == "" {
		ex.TimeZone = cfg.Zone
	}
	if pm.TimeZone == "" {
		pm.TimeZone = cfg.Zone
	}
	return map[string]func() Adapter{
		raw.FormatPostfix:  func() Adapter { return postfix.New(cfg.Postfix) },
		raw.FormatExim:     func() Adapter { return eximAdapter{exim.New(ex)} },
		raw.FormatPMTA:     func() Adapter { return pmtaAdapter{pmta.New(pm)} },
		raw.FormatKumoMTA:  func() Adapter { return kumo.New(cfg.KumoMTA) },
		raw.FormatSES:      func() Adapter { return esp.NewSES(cfg.ESP) },
		raw.FormatSendGrid: func() Adapter { return esp.NewSendGrid(cfg.ESP) },
		raw.FormatMailgun:  func() Adapter { return esp.NewMailgun(cfg.ESP) },
		raw.FormatPostmark: func() Adapter { return esp.NewPostmark(cfg.ESP) },
		raw.FormatPostal:   func() Adapter { return esp.NewPostal(cfg.ESP) },
		raw.FormatMail:     func() Adapter { return mail.New(cfg.Mail) },
	}
}

func formatNames(m map[string]func() Adapter) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Stateful adapters persist their state as bytes (Session.Snapshot); Exim's
// and PowerMTA's states are plain structs, stored as JSON.
type eximAdapter struct{ *exim.Decoder }

func (a eximAdapter) Snapshot() ([]byte, error) { return json.Marshal(a.Decoder.Snapshot()) }

func (a eximAdapter) Restore(b []byte) error {
	var s exim.State
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	a.Decoder.Restore(s)
	return nil
}

type pmtaAdapter struct{ *pmta.Decoder }

func (a pmtaAdapter) Snapshot() ([]byte, error) { return json.Marshal(a.Decoder.Snapshot()) }

func (a pmtaAdapter) Restore(b []byte) error {
	var s pmta.State
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	a.Decoder.Restore(s)
	return nil
}
