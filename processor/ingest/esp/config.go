package esp

import (
	"fmt"
	"strings"
)

// Config tunes how the ESP decoders find a message's campaign. The zero value
// is valid; every field's default is in its comment. One Config serves every
// provider: campaign conventions belong to the sender, not to the ESP.
type Config struct {
	// CampaignKeys names the keys that carry the campaign id, in order of
	// preference, matched ignoring case against: SES mail.tags and then
	// mail.headers, SendGrid top-level keys (custom args, also
	// marketing_campaign_id and the like), Mailgun user-variables and
	// Postmark Metadata (Postal sends no key/value pairs, only a tag).
	// Default ["campaign", "campaign_id", "X-Campaign-ID"].
	CampaignKeys []string `koanf:"campaign_keys"`
	// TagCampaign says what to do when no key matched: "first" (default)
	// takes the message's first tag as its campaign (SendGrid category,
	// Mailgun campaigns and then tags, Postmark Tag, Postal tag), "never"
	// leaves the campaign empty. Senders commonly tag each campaign, so "first" is the
	// useful default; choose "never" when tags mean something else.
	TagCampaign string `koanf:"tag_campaign"`
}

// DefaultCampaignKeys is the default of Config.CampaignKeys.
var DefaultCampaignKeys = []string{"campaign", "campaign_id", "X-Campaign-ID"}

// The values of Config.TagCampaign.
const (
	TagCampaignFirst = "first"
	TagCampaignNever = "never"
)

// Validate reports the first setting that cannot work, named by its key.
func (c Config) Validate() error {
	seen := make(map[string]bool, len(c.CampaignKeys))
	for i, k := range c.CampaignKeys {
		switch {
		case strings.TrimSpace(k) == "":
			return fmt.Errorf("ingest.esp.campaign_keys[%d]: empty key", i)
		case len(k) > 128:
			return fmt.Errorf("ingest.esp.campaign_keys[%d]: longer than 128 bytes", i)
		case seen[strings.ToLower(k)]:
			return fmt.Errorf("ingest.esp.campaign_keys[%d]: %q is listed twice (keys match ignoring case)", i, k)
		}
		seen[strings.ToLower(k)] = true
	}
	switch c.TagCampaign {
	case "", TagCampaignFirst, TagCampaignNever:
	default:
		return fmt.Errorf("ingest.esp.tag_campaign: %q is not one of %q, %q", c.TagCampaign, TagCampaignFirst, TagCampaignNever)
	}
	return nil
}

// campaignRule is a Config made ready for the hot path.
type campaignRule struct {
	keys []string // trimmed, in order; compared with strings.EqualFold
	tags bool     // fall back to the first tag
}

// newCampaignRule applies the defaults. A key Validate would refuse (empty)
// is dropped rather than matched, so a decoder built from an unvalidated
// Config still behaves predictably.
func newCampaignRule(c Config) campaignRule {
	keys := c.CampaignKeys
	if len(keys) == 0 {
		keys = DefaultCampaignKeys
	}
	r := campaignRule{tags: c.TagCampaign != TagCampaignNever}
	for _, k := range keys {
		if k = strings.TrimSpace(k); k != "" {
			r.keys = append(r.keys, k)
		}
	}
	return r
}
