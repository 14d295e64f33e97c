// Package classify assigns every delivery attempt one verdict of the docs/classification.md
// taxonomy ({class, label, scope, rule}), from the reply code, the RFC 3463
// enhanced code, the reply text, the SMTP stage and the recipient domain.
//
// # Rules are data
//
// The rules live in rules.yaml, embedded in the binary (Default). A user's
// rules file in the same format is validated by Load or LoadFile and laid
// over the shipped rules by Merge: a user rule with an existing id replaces
// that rule in place; a rule with a new id is appended, so it ranks after the
// shipped rules of its tier. A rule:
//
//	rules:
//	  - id: text.user_unknown        # dotted, stable; the verdict's rule
//	    label: mailbox_unknown       # a docs/classification.md label; class and scope follow
//	    local: false                 # true: our own MTA failed, never the recipient's fault
//	    retried: false               # true: MTAs retry it until expiry (outcome bounced → expired)
//	    phrases: ["user unknown"]    # lower-case literals, any one must occur
//	    all: ["recipient"]           # literals that must all occur too
//	    regex: '\buser\b'            # RE2, case-insensitive, only after the literals hit
//	    codes: [5xx, "421"]          # reply codes or classes (5xx, 55x)
//	    enhanced: [5.1.1, 5.7.*]     # RFC 3463 codes, * per component
//	    command: [RCPT]              # CONNECT, HELO, MAIL, RCPT, DATA
//	    domains: [gmail.com]         # recipient domain suffixes    } provider
//	    fingerprints: [gsmtp]        # provider literals in the text }
//
// Every field that is set must match; lists are any-of. Load rejects an
// unknown field or label, a rule with no match field, an empty literal, a
// regex without a literal or that does not compile, a bad code, enhanced or
// command pattern, and a duplicate id, naming the rule's index, id and field.
//
// # Precedence
//
// docs/classification.md ranks the evidence; a rule's tier follows from the fields it sets,
// so a rule cannot claim stronger evidence than it looks at:
//
//  1. provider: domains or fingerprints (Google, Microsoft, Yahoo, Apple,
//     …), or only enhanced codes outside RFC 3463's registry (detail ≥ 100,
//     Microsoft's 5.7.5xx–7xx and 4.7.5xx–6xx), which one provider alone
//     sends. A provider's own wording or code beats any generic phrase:
//     "451 4.7.500 Server busy" is Exchange Online throttling us, not the
//     remote's trouble; "5.7.708 Access denied" is a banned IP, not policy;
//     each Exchange Online 5.7.5xx keeps the cause Microsoft's NDR table
//     gives it (5.7.504/505 invalid recipient, 5.7.506 bad HELO, 5.7.508
//     IPv6 rate, 5.7.512 no valid From), whatever "Access denied" says.
//  2. text: phrases or all, optionally narrowed by codes, enhanced codes
//     or stage. The text names the cause; an enhanced code only narrows
//     which rule of the text tier applies (see below).
//  3. stage: command (a MAIL FROM rejection is about the sender; after DATA
//     about the message; at CONNECT or HELO a 5xx or a 4.7.x is about our
//     IP, any other 4xx is the server's own state, remote_system_error)
//  4. enhanced: enhanced codes, with known provider deviations and
//     narrowed by reply code where RFCs reuse a code: RFC 4954's 5.7.8
//     and 5.7.9 mean an AUTH failure only in a reply to AUTH; on a 550 or
//     554 refusal of a message they are the X.7 policy catch-all
//  5. code: reply codes only, the weakest evidence (421 alone is the
//     server's own state, RFC 5321 §3.8)
//
// The first tier with a matching rule decides, and within a tier the first
// matching rule in file order. Within the text tier the shipped file is
// ordered: our own MTA; complaints and suppressions; the recipient's
// mailbox closed for inactivity; blocklists and reputation; throttling
// (any quota counted per hour, connection or queue is a rate, before the
// mailbox_full rule can see "quota exceeded"); greylisting, auth, content,
// size, relay, sender; the recipient's filter; mailbox full, inactive,
// moved (only with a new address or X.1.6, else unknown); DNS; the
// user-unknown ladder; expiry, network and remote-system wording; last
// the generic policy phrases, a bare "message denied" (content_rejected:
// Haraka's default refusal after DATA; "denied by policy" stays a policy)
// and a bare "try again later" under 4.7.x (greylisted, never the X.7
// catch-all's policy_violation). So rules that
// blame the sender or the message come before those that blame the
// recipient: a blocklist rejection worded "mailbox unavailable" or
// carrying 5.1.1 is sender_blocked, never hard. Before the rules, and
// first of all, outcome complaint gives outcome.complaint whatever else
// the event carries: a spam report (an ARF report, an ESP's complaint) may
// quote the original message or a bounce-like text, and no rule must read
// it as a bounce. Then a source classification meaning a complaint gives
// source.complaint (complaints that arrive the older way, as outcome
// delivered with the source's verdict), and outcome delivered gives
// outcome.delivered; when nothing but a bare reply code (or
// nothing at all) is known, outcome dropped gives outcome.dropped
// (suppressed) and outcome expired gives outcome.expired. An input with no
// evidence is default.unknown.
//
// # Outcome-aware expiry
//
// After a rule decides, the event's outcome can turn its label into
// expired (transport, soft) while the verdict keeps the deciding rule's id,
// so the reply that kept failing stays visible: rule "text.connect_failed",
// label expired. This happens when the outcome is expired and the rule's
// verdict is soft (a transport failure, greylisting, a full mailbox,
// unknown), and when the outcome is bounced and the rule is marked
// retried: a refused or timed-out connection (text.connect_failed, Postfix
// "delivery temporarily suspended", X.4.1 "no answer from host") is retried
// by every MTA until its queue lifetime runs out, so a bounce after it
// means the lifetime ran out. Other network failures are not marked and
// keep network_error under outcome bounced: a mail loop (5.4.6, "too many
// hops") bounces at once without retries, and a transient DNS failure or a
// session lost half-way is not a failure to connect. Load accepts retried
// only on a soft label. A hard or block verdict under outcome expired is
// kept: it says why the retries failed and feeds suppression and the
// sender-health alerts. Outcome deferred keeps network_error: the MTA is
// still retrying.
//
// # Weak evidence is never hard
//
// A hard verdict suppresses the recipient at once; a soft one counts toward
// a streak that still suppresses a dead address after soft_threshold failed
// sends (docs/suppressions.md). Classifying a good recipient hard is the worst error, so
// hard needs evidence that only a failed recipient lookup produces:
//
//   - The reply code's first digit is the weakest evidence and never makes
//     anything hard: a bare 5xx is code.5xx, label unknown (soft); a 4xx
//     with "User unknown" is not turned soft by its code when the text or
//     the enhanced code proves the lookup (Postfix "User unknown in local
//     recipient table" under 450, or 4.1.1).
//   - "User unknown" wording is hard with corroboration: a reply that only a
//     directory lookup produces (text.user_unknown), the RCPT TO stage
//     (text.user_unknown.rcpt), or an X.1.x enhanced code
//     (text.user_unknown.enhanced). A product's explicit lookup answer
//     ("No such user", "User not exist", "Invalid recipient", "Addressee
//     unknown", "recipient doesn't exist") is stronger than an odd
//     enhanced code (5.7.x, 5.3.x, 5.5.x) or a 450 (text.user_unknown
//     .explicit, .explicit_temporary); a 451 says the lookup failed and
//     stays soft. After DATA (text.user_unknown.data), or
//     under an X.2/X.3/X.7 code (text.user_unknown.conflicting,
//     .policy_code), the recipient had been accepted or a policy spoke, so
//     it is recipient_filtered (soft). The canonical wordings on their own
//     ("User unknown", "No such user", "mailbox unavailable") are what
//     content filters and carriers reuse to refuse a message, so alone they
//     are soft too (text.user_unknown.generic).
//   - A DNS failure is hard only when it is the recipient's domain's own
//     answer not marked temporary (NXDOMAIN without a 4.x.x/4xx, RFC 7505 null
//     MX); a lookup failure the reporting MTA calls temporary (4.x.x, 4xx,
//     "Host not found, try again") and every failure of our own MTA
//     (local: true rules) is transport, soft.
//   - Provider rules encode the providers' documented deviations (Exchange
//     Online 5.4.1 and 5.7.504/505 = recipient unknown, Gmail 5.2.1 =
//     disabled or receiving too fast by its text), so they rank above
//     everything else.
//
// # Matching cost
//
// New compiles every literal of every rule into one Aho-Corasick automaton
// (a dense DFA over byte classes; ASCII case and whitespace are folded in
// the class table). One pass over the text yields the literals present; only
// rules triggered by a literal, plus the few rules that have none (stage,
// enhanced and code rules, checked by integer comparison), are examined, and
// a rule's regex runs only for those candidates. There is no loop of regular
// expressions per event, and Classify does not allocate.
//
// # Inputs
//
// Code and Enhanced come from the event; when they are empty they are read
// from the text (a code followed by an enhanced code, "550 5.1.1" or
// "550-5.1.1", is preferred). The text is scanned as one line: runs of
// whitespace count as one space and the "550-5.7.1 " prefixes of multi-line
// replies are skipped. When the event does not name the SMTP command, it is
// read from the text ("in reply to RCPT TO command", "after MAIL FROM",
// "did not like our final DATA"). A code that disagrees with the text loses:
// the text is stronger evidence.
//
// Stream is the `bounced classify` command; Eval measures the classifier on
// the labelled corpus. Eval classifies every corpus row with outcome
// bounced, because every row comes from a bounce message (a DSN: the MTA
// gave up); only the rules marked retried read the outcome that way, and
// the corpus's auto-replies, complaints and deliveries are decided by their
// text or code.
package classify
