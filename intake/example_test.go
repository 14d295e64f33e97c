package intake_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/bounced-dev/bounced/intake"
)

// printProducer stands in for the Kafka writer.
type printProducer struct{}

func (printProducer) Produce(_ context.Context, source string, body []byte) error {
	fmt.Printf("produced %d bytes from %s\n", len(body), source)
	return nil
}

// A Postmark webhook with basic auth, received on an existing API mux.
func Example() {
	cfg := intake.Config{
		Enabled:  true,
		Postmark: intake.Postmark{Username: "postmark", Password: "a long random password"},
	}
	h, err := intake.New(cfg, printProducer{}, intake.Deps{})
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	h.Mount(mux)

	req := httptest.NewRequest(http.MethodPost, "/v1/intake/postmark", strings.NewReader(`{"RecordType":"Bounce"}`))
	req.SetBasicAuth("postmark", "a long random password")
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, req)
	fmt.Println(w.Code)

	w = httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/v1/intake/sendgrid", strings.NewReader(`[]`)))
	fmt.Println(w.Code, strings.TrimSpace(w.Body.String()))
	// Output:
	// produced 23 bytes from postmark
	// 200
	// 404 not_configured: intake for sendgrid is not configured
}
