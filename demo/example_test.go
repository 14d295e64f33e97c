package demo_test

import (
	"fmt"

	"github.com/bounced-dev/bounced/demo"
)

// Produce the records keyed by Host to the input topic, run the pipeline,
// then compare the suppressions topic with Truth.Suppressed and the DLQ with
// Truth.Bad. Most records are canonical JSON; complaints and bounces that
// arrive after delivery are mails (RFC 5322, as `bounced mail` produces
// them), keyed like the recipient's other records. Here an address written "Max.Jensen62@Aol.com" by some campaigns
// and in lower case by others fills its mailbox.
func ExampleGenerate() {
	s, err := demo.Generate(demo.Tiny(1))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(s.Records) == s.Truth.Attempts+s.Truth.Complaints+s.Truth.Bad, s.Truth.Bad, len(s.Truth.Suppressed))
	fmt.Println(s.Truth.Suppressed["max.jensen62@aol.com"])
	// Output:
	// true 20 22
	// {soft mailbox_full}
}
