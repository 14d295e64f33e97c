// Package postfix is the input adapter for Postfix syslog lines (docs/formats.md,
// research/formats.md §1). It turns the message part of one line (the syslog
// prefix is already stripped into raw.Record's Host, Program, PID and Time)
// into zero or more canonical attempts.
//
// # Why it is stateful
//
// Postfix spreads one message over many lines that share a queue id: cleanup
// logs the Message-ID, qmgr the envelope sender, each delivery agent one
// status line per recipient per attempt, and qmgr "removed" at the end. A
// Decoder keeps one entry per (host, queue id) so that a status line can be
// emitted at once, enriched with what earlier lines said. It never waits for
// missing lines: a shipper that starts mid-stream yields attempts without a
// sender or message id rather than none.
//
// What the state carries per message:
//   - first-queued time (SentAt), Message-ID, envelope sender;
//   - header_checks INFO/WARN headers (Metadata "header.<name>");
//   - whether it is a bounce (DSN) message: null sender, or named by a
//     postfix/bounce "notification" line; its deliveries are skipped, so
//     our own bounces never count against their recipients;
//   - per deferred recipient: the deferral count (attempt numbers: a final
//     event is count+1), the last deferral's reason (the diagnostic of the
//     expiry event qmgr later logs once per message).
//
// Content-filter re-injection (status=sent to a loopback relay, "queued as
// NEWQID") hands the message's identity to NEWQID and skips the first leg, so
// one message delivered through amavis counts once.
//
// Entries end at "removed" (queue ids are reused), after Config.TTL of log
// time without a line (evicted lazily, as lines arrive), or when
// Config.MaxEntries is exceeded (least recently touched first). The key is
// the syslog host, not the instance: a message re-injected from postfix-in to
// postfix-out on the same machine keeps its identity.
//
// # Snapshot format
//
// Snapshot writes the state as one JSON object, version 1, so the pipeline
// can store it with its offsets and Restore it after a restart:
//
//	{"v":1,"now":<unix ns>,"e":[entry, ...]}   entries least recently touched first
//	entry: {"h":host,"q":queue id,"f":first-queued unix ns,"l":last-seen unix ns,
//	        "m":message id,"s":sender,"sk":sender known,"b":bounce message,
//	        "hd":[[name,value],...],"r":[recipient, ...]}
//	recipient: {"a":address,"o":orig_to,"n":deferrals,"x":final,
//	            "t":last deferral unix ns,"re":last reason,"d":last dsn,"lf":last was local}
//
// Empty and zero fields are omitted. Restore rejects any other version.
//
// # Skips and errors
//
// Lines that are valid but are not delivery attempts return a skip reason
// (see the Skip* constants); lines that cannot be understood return a
// *raw.Error whose Reason starts with "postfix." (see the Reason*
// constants). Every record therefore ends as attempts, a counted skip, or a
// dead letter (docs/guarantees.md).
package postfix
