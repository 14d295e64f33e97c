package topics

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/segmentio/kafka-go"

	"github.com/bounced-dev/bounced/processor/event"
	"github.com/bounced-dev/bounced/processor/guard"
	"github.com/bounced-dev/bounced/processor/streak"
)

// This file is the record contract of bounced's topics: the keys, headers
// and values every record carries, and the encoders that build them. The
// stages decide what to write; only this file says how it looks on the
// wire, so that a reader of any topic (another platform, kcat, `bounced
// decode`) has one place to look.

// HeaderControl marks an operator or domain command on the attempts topic;
// its value is the streak.Op and the record value a JSON streak.Control.
const HeaderControl = "bounced-control"

// HeaderSource marks each attempt with the input position stage 1 made it
// from: "topic/partition/offset/index" (index counts the attempts one input
// record yielded). Stage 2 keeps, per attempts partition, the highest
// position applied from each input partition, so attempts that stage 1
// produced again after a crash are recognised and skipped.
const HeaderSource = "bounced.src"

// HeaderIntake names where bounced itself received an input record: the
// webhook endpoint ("ses", "sendgrid", "mailgun", "postmark", "postal") of
// `bounced intake`, or "mail" for `bounced mail`. Records from shippers
// carry none. HeaderIntakeSize, on a mail that had to be cut to fit the
// topic, is its size before the cut.
const (
	HeaderIntake     = "bounced.intake"
	HeaderIntakeSize = "bounced.intake.original_size"
)

// IntakeMessage is the input record of a body bounced received itself: the
// body unchanged, no key (stage 1 is not keyed), a header naming source.
func IntakeMessage(topic, source string, body []byte) kafka.Message {
	return kafka.Message{Topic: topic, Value: body, Headers: []kafka.Header{{Key: HeaderIntake, Value: []byte(source)}}}
}

// Dead-letter headers. The value of a dead-letter record is the original
// record, cut at DLQMaxBytes.
const (
	HeaderError     = "bounced.error"
	HeaderReason    = "bounced.reason"
	HeaderStage     = "bounced.stage"
	HeaderTopic     = "bounced.source.topic"
	HeaderPartition = "bounced.source.partition"
	HeaderOffset    = "bounced.source.offset"
	HeaderSize      = "bounced.original.size"
	HeaderTruncated = "bounced.truncated"
	// DLQMaxBytes bounds the original bytes a dead-letter record keeps.
	DLQMaxBytes = 256 << 10

	// dlqMaxError bounds the error text a dead-letter record carries.
	dlqMaxError = 4 << 10
)

// Changelog keys that are not addresses (they hold no '@'): a partition's
// incident-guard holds and its input positions.
const (
	KeyHolds   = "\x00holds"
	KeySources = "\x00sources"
)

// domainKeyPrefix keys domain commands on the attempts topic; no address
// starts with a NUL byte.
const domainKeyPrefix = "\x00domain:"

// Header returns the value of header key in m, or "".
func Header(m *kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// SourcePos is a position in an input partition.
type SourcePos struct {
	Off int64 `json:"o"`
	Idx int   `json:"i"`
}

// After reports whether a lies past b.
func (a SourcePos) After(b SourcePos) bool { return a.Off > b.Off || a.Off == b.Off && a.Idx > b.Idx }

// FormatSource is the HeaderSource value of the index-th attempt made from
// an input record.
func FormatSource(topic string, partition int, offset int64, index int) string {
	return FormatSourceIn(SourceKey(topic, "", partition), offset, index)
}

// SourceKey names an input partition in source positions: "topic/partition",
// or "topic@incarnation/partition" when the topic has an incarnation
// (Incarnation), so that the positions of a recreated topic never compare
// with the old one's. '@' is not allowed in topic names.
func SourceKey(topic, incarnation string, partition int) string {
	if incarnation != "" {
		topic += "@" + incarnation
	}
	return topic + "/" + strconv.Itoa(partition)
}

// FormatSourceIn is FormatSource for the input partition key names.
func FormatSourceIn(key string, offset int64, index int) string {
	return key + "/" + strconv.FormatInt(offset, 10) + "/" + strconv.Itoa(index)
}

// ParseSource splits a HeaderSource value into its input partition
// ("topic/partition") and position.
func ParseSource(v string) (string, SourcePos, bool) {
	i := strings.LastIndexByte(v, '/')
	if i < 0 {
		return "", SourcePos{}, false
	}
	j := strings.LastIndexByte(v[:i], '/')
	if j < 0 {
		return "", SourcePos{}, false
	}
	off, err1 := strconv.ParseInt(v[j+1:i], 10, 64)
	idx, err2 := strconv.Atoi(v[i+1:])
	if err1 != nil || err2 != nil {
		return "", SourcePos{}, false
	}
	return v[:j], SourcePos{Off: off, Idx: idx}, true
}

// Encoding is how stage 1 writes attempts to the attempts topic.
type Encoding string

// The encodings of attempts. Stage 2 reads both whichever it writes.
const (
	// EncodingBinary is event.Attempt's binary encoding
	// (processor/event/codec.go): its first byte is
	// event.AttemptBinaryV1, never the start of JSON.
	EncodingBinary Encoding = "binary"
	// EncodingJSON is the JSON of event.Attempt
	// (schemas/attempt.schema.json), as versions before the binary
	// encoding wrote.
	EncodingJSON Encoding = "json"
)

// AttemptMessage is an attempts-topic record: the attempt in enc (the
// empty Encoding is EncodingBinary) keyed by its normalised recipient (so
// one recipient's events stay on one partition), marked with the input
// position it came from.
func AttemptMessage(topic string, a *event.Attempt, source string, enc Encoding) (kafka.Message, error) {
	var v []byte
	var err error
	switch enc {
	case EncodingBinary, "":
		v, err = a.AppendBinary(nil)
	case EncodingJSON:
		v, err = json.Marshal(a)
	default:
		err = fmt.Errorf("unknown encoding %q", enc)
	}
	if err != nil {
		return kafka.Message{}, fmt.Errorf("encode attempt: %w", err)
	}
	return kafka.Message{Topic: topic, Key: []byte(a.RecipientNorm), Value: v,
		Headers: []kafka.Header{{Key: HeaderSource, Value: []byte(source)}}}, nil
}

// DecodeAttempt sets *a to the attempt of an attempts-topic record value
// (one without the HeaderControl header), in either encoding: a value
// starting with event.AttemptBinaryV1 is binary, one starting with '{' or
// JSON whitespace is the JSON older versions wrote. The strings of a are
// copies: a keeps nothing of b.
func DecodeAttempt(b []byte, a *event.Attempt) error {
	if len(b) == 0 {
		return errors.New("empty value")
	}
	switch b[0] {
	case event.AttemptBinaryV1:
		return a.UnmarshalBinary(b)
	case '{', ' ', '\t', '\n', '\r':
		*a = event.Attempt{}
		return json.Unmarshal(b, a)
	}
	return fmt.Errorf("unknown encoding (first byte %#02x)", b[0])
}

// ControlMessage is an operator command on one address (lift, suppress):
// keyed like the address's events, so the stage-2 worker that owns the
// address applies it after every event already queued for it.
func ControlMessage(topic string, c streak.Control) (kafka.Message, error) {
	v, err := json.Marshal(c)
	if err != nil {
		return kafka.Message{}, fmt.Errorf("encode %s of %s: %w", c.Op, c.Address, err)
	}
	return kafka.Message{Topic: topic, Key: []byte(c.Address), Value: v,
		Headers: []kafka.Header{{Key: HeaderControl, Value: []byte(c.Op)}}}, nil
}

// DomainMessages turns domain commands (hold, release, discard) into one
// record per partition of the attempts topic (for a writer that honours
// Message.Partition): every stage-2 owner applies them in order with its
// own events, whichever partitions it owns.
func DomainMessages(topic string, partitions int, cs ...streak.Control) ([]kafka.Message, error) {
	var out []kafka.Message
	for _, c := range cs {
		v, err := json.Marshal(c)
		if err != nil {
			return nil, fmt.Errorf("encode %s of %s: %w", c.Op, c.Domain, err)
		}
		for i := range partitions {
			out = append(out, kafka.Message{Topic: topic, Partition: i, Key: []byte(domainKeyPrefix + c.Domain), Value: v,
				Headers: []kafka.Header{{Key: HeaderControl, Value: []byte(c.Op)}}})
		}
	}
	return out, nil
}

// ControlSourceReset is the HeaderControl op of a source reset: stage 1
// found an input partition restarted (the topic recreated or truncated, so
// its offsets begin again below the ones already processed) and tells every
// stage-2 owner to forget the highest position it applied from it, which
// would otherwise make every new attempt look like a replay.
const ControlSourceReset = "source_reset"

// SourceResetMessages is the source reset of input partition source
// ("topic/partition", as ParseSource returns it) for each partition of the
// attempts topic (for a writer that honours Message.Partition): each
// arrives before any attempt stage 1 makes from the restarted partition.
func SourceResetMessages(topic string, partitions int, source string) []kafka.Message {
	out := make([]kafka.Message, partitions)
	for i := range partitions {
		out[i] = kafka.Message{Topic: topic, Partition: i, Key: []byte(source),
			Headers: []kafka.Header{{Key: HeaderControl, Value: []byte(ControlSourceReset)}}}
	}
	return out
}

// SuppressionMessage is a record of the compacted suppressions topic:
// keyed by address, the whole record as JSON, nil rec a tombstone (the
// address was lifted).
func SuppressionMessage(topic, address string, rec *event.Suppression) (kafka.Message, error) {
	m := kafka.Message{Topic: topic, Key: []byte(address)}
	if rec != nil {
		v, err := json.Marshal(rec)
		if err != nil {
			return kafka.Message{}, fmt.Errorf("encode suppression of %s: %w", address, err)
		}
		m.Value = v
	}
	return m, nil
}

// AlertMessages are the alerts topic's records of as, keyed by Alert.Key.
func AlertMessages(topic string, as []event.Alert) ([]kafka.Message, error) {
	out := make([]kafka.Message, len(as))
	for i := range as {
		v, err := json.Marshal(&as[i])
		if err != nil {
			return nil, fmt.Errorf("encode alert: %w", err)
		}
		out[i] = kafka.Message{Topic: topic, Key: []byte(as[i].Key()), Value: v}
	}
	return out, nil
}

// Dead is a record one stage refused, and why.
type Dead struct {
	Stage  string // "ingest" or "decide"
	Reason string // a short machine-readable reason, e.g. "malformed"
	Err    error
	Msg    *kafka.Message // the record as read
}

// DeadLetter is the dead-letter record of d: the original key and bytes
// (cut at DLQMaxBytes) with headers saying where they came from and why they
// were refused.
func DeadLetter(topic string, d Dead) kafka.Message {
	m := d.Msg
	val := m.Value
	msg := d.Err.Error()
	if len(msg) > dlqMaxError {
		msg = strings.ToValidUTF8(msg[:dlqMaxError], "") + "…"
	}
	h := []kafka.Header{
		{Key: HeaderError, Value: []byte(msg)},
		{Key: HeaderReason, Value: []byte(d.Reason)},
		{Key: HeaderStage, Value: []byte(d.Stage)},
		{Key: HeaderTopic, Value: []byte(m.Topic)},
		{Key: HeaderPartition, Value: []byte(strconv.Itoa(m.Partition))},
		{Key: HeaderOffset, Value: []byte(strconv.FormatInt(m.Offset, 10))},
		{Key: HeaderSize, Value: []byte(strconv.Itoa(len(m.Value)))},
	}
	if len(val) > DLQMaxBytes {
		val = val[:DLQMaxBytes]
		h = append(h, kafka.Header{Key: HeaderTruncated, Value: []byte("true")})
	}
	return kafka.Message{Topic: topic, Key: m.Key, Value: val, Headers: h}
}

// recordOverhead bounds what Kafka adds to a record's key, value and
// headers when it measures a produce batch against max.message.bytes: the
// record batch header (61 bytes) and each record's and header's varints.
const recordOverhead = 128

// Fits reports whether m can be written to a topic whose max.message.bytes
// is limit, by a writer whose batches are bounded by BatchBudget(limit).
func Fits(m kafka.Message, limit int) bool {
	return Size(m) <= BatchBudget(limit)
}

// BatchBudget is what a writer may put in one produce batch for topics
// whose max.message.bytes is limit: the broker measures the whole batch,
// kafka-go counts only keys, values and headers, so leave a sixteenth for
// the batch header and the records' varints.
func BatchBudget(limit int) int {
	if limit <= 0 {
		limit = DefaultMaxMessageBytes
	}
	return limit - limit/16
}

// Size is m's size as a broker measures it against max.message.bytes, from
// above.
func Size(m kafka.Message) int {
	n := recordOverhead + len(m.Key) + len(m.Value)
	for _, h := range m.Headers {
		n += 10 + len(h.Key) + len(h.Value)
	}
	return n
}

// StateMessage is a changelog record: a recipient's absolute state, in the
// changelog partition numbered like its attempts partition.
func StateMessage(topic string, partition int, address string, st *streak.State) (kafka.Message, error) {
	v, err := st.AppendBinary(nil)
	if err != nil {
		return kafka.Message{}, fmt.Errorf("encode state of %s: %w", address, err)
	}
	return kafka.Message{Topic: topic, Partition: partition, Key: []byte(address), Value: v}, nil
}

// HoldsMessage is the changelog record of a partition's incident-guard
// holds.
func HoldsMessage(topic string, partition int, h *guard.Holds) (kafka.Message, error) {
	v, err := h.Encode()
	if err != nil {
		return kafka.Message{}, fmt.Errorf("encode holds: %w", err)
	}
	return kafka.Message{Topic: topic, Partition: partition, Key: []byte(KeyHolds), Value: v}, nil
}

// SourcesMessage is the changelog record of a partition's input positions.
func SourcesMessage(topic string, partition int, sources map[string]SourcePos) (kafka.Message, error) {
	v, err := json.Marshal(sources)
	if err != nil {
		return kafka.Message{}, fmt.Errorf("encode source positions: %w", err)
	}
	return kafka.Message{Topic: topic, Partition: partition, Key: []byte(KeySources), Value: v}, nil
}

// DecodeSources reads the value of a KeySources changelog record.
func DecodeSources(b []byte) (map[string]SourcePos, error) {
	m := map[string]SourcePos{}
	if len(b) == 0 {
		return m, nil
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}
