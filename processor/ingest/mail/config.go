package mail

import (
	"fmt"
	"regexp"
)

// DefaultVERP is the VERP pattern used when ingest.mail.verp is empty: the
// common "prefix+local=domain@host" envelope sender (Postfix's, Exim's and
// most list managers' form: bounces+jane=example.org@mail.sender.example).
const DefaultVERP = `^[^@+]+\+(?P<local>[^@=]+)=(?P<domain>[^@=]+\.[^@=]+)@`

// VERPOff in ingest.mail.verp turns VERP decoding off.
const VERPOff = "off"

// Defaults of the limits (each used when its setting is 0).
const (
	DefaultMaxParts       = 64
	DefaultMaxDepth       = 8
	DefaultMaxRecipients  = 100
	DefaultMaxHeaderBytes = 256 << 10
	DefaultMaxHeaders     = 40
)

// Config tunes the bounce-mail decoder (keys ingest.mail.*). The zero value
// is valid: every field's default is in its comment.
type Config struct {
	// VERP is a regular expression on the bounce's envelope recipient
	// (Delivered-To, X-Original-To, Envelope-To, To) and on the original's Return-Path,
	// with the named groups "local" and "domain": the recipient a VERP
	// sender address encodes. Default DefaultVERP; "off" disables it.
	VERP string `koanf:"verp"`
	// MaxParts bounds the MIME parts of one message. Default 64.
	MaxParts int `koanf:"max_parts"`
	// MaxDepth bounds how deep multiparts nest. Default 8.
	MaxDepth int `koanf:"max_depth"`
	// MaxRecipients bounds the per-recipient blocks of one DSN (and the
	// recipients of a text bounce). Default 100.
	MaxRecipients int `koanf:"max_recipients"`
	// MaxHeaderBytes bounds one header block. Default 256 KiB.
	MaxHeaderBytes int `koanf:"max_header_bytes"`
	// MaxHeaders bounds how many of the original message's header fields
	// are kept as metadata ("header.<name>"). Default 40 (ingest allows 64
	// metadata entries in all).
	MaxHeaders int `koanf:"max_headers"`
}

// Validate reports the first setting that cannot work, named by its key.
func (c Config) Validate() error {
	if c.VERP != "" && c.VERP != VERPOff {
		re, err := regexp.Compile(c.VERP)
		if err != nil {
			return fmt.Errorf("ingest.mail.verp: %w; want a Go regular expression with groups named local and domain, or %q", err, VERPOff)
		}
		if re.SubexpIndex("local") < 0 || re.SubexpIndex("domain") < 0 {
			return fmt.Errorf("ingest.mail.verp: %q has no group named local or domain; want (?P<local>…) and (?P<domain>…)", c.VERP)
		}
	}
	for _, f := range []struct {
		key string
		v   int
		max int
	}{
		{"max_parts", c.MaxParts, 10000},
		{"max_depth", c.MaxDepth, 100},
		{"max_recipients", c.MaxRecipients, 100000},
		{"max_header_bytes", c.MaxHeaderBytes, 64 << 20},
		{"max_headers", c.MaxHeaders, 60},
	} {
		if f.v < 0 || f.v > f.max {
			return fmt.Errorf("ingest.mail.%s: %d is outside 0..%d (0 means the default)", f.key, f.v, f.max)
		}
	}
	return nil
}

func (c *Config) maxParts() int       { return or(c.MaxParts, DefaultMaxParts) }
func (c *Config) maxDepth() int       { return or(c.MaxDepth, DefaultMaxDepth) }
func (c *Config) maxRecipients() int  { return or(c.MaxRecipients, DefaultMaxRecipients) }
func (c *Config) maxHeaderBytes() int { return or(c.MaxHeaderBytes, DefaultMaxHeaderBytes) }
func (c *Config) maxHeaders() int     { return or(c.MaxHeaders, DefaultMaxHeaders) }

func or(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// verp compiles the VERP pattern; nil when off. New calls it once; an
// invalid pattern (Validate was not called) also means off.
func (c *Config) verp() *regexp.Regexp {
	switch c.VERP {
	case VERPOff:
		return nil
	case "":
		return regexp.MustCompile(DefaultVERP)
	}
	re, err := regexp.Compile(c.VERP)
	if err != nil || re.SubexpIndex("local") < 0 || re.SubexpIndex("domain") < 0 {
		return nil
	}
	return re
}
