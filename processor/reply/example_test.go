package reply_test

import (
	"fmt"

	"github.com/bounced-dev/bounced/processor/reply"
)

func ExampleParse() {
	r := reply.Parse("550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n" +
		"550 5.1.1 double-checking the recipient's email address for typos")
	fmt.Println(r.Code, r.Enhanced)
	fmt.Println(r.Text)
	// Output:
	// 550 5.1.1
	// The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos
}

func ExampleParseDiagnostic() {
	fmt.Println(reply.ParseDiagnostic("smtp; 550 5.1.1 <jane@example.com>... User unknown"))
	fmt.Println(reply.ParseDiagnostic("498 No MX for nomx.example.com"))
	// Output:
	// {550 5.1.1 <jane@example.com>... User unknown}
	// {0  498 No MX for nomx.example.com}
}

func ExampleParseFlat() {
	fmt.Println(reply.ParseFlat("550-5.7.1 line one 550-5.7.1 line two 550 5.7.1 last"))
	// Output:
	// {550 5.7.1 line one line two last}
}
