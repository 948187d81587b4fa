package winnet_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/wsspi/wsspi/winnet"
)

// TestHTTPClientAndServerExchangeRequests runs an unmodified net/http
// server and client over the simulated stack: keep-alive GETs, a POST with
// a body, and a request per fresh connection, on each machine of stacks.
func TestHTTPClientAndServerExchangeRequests(t *testing.T) {
	onEachStack(t, func(t *testing.T, w *world) {
		l, err := w.server.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("GET /hello/{name}", func(rw http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(rw, "hello, %s", r.PathValue("name"))
		})
		mux.HandleFunc("POST /upper", func(rw http.ResponseWriter, r *http.Request) {
			b, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(rw, err.Error(), http.StatusBadRequest)
				return
			}
			rw.Write([]byte(strings.ToUpper(string(b))))
		})
		srv := &http.Server{Handler: mux}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(l) }()

		base := "http://" + l.Addr().String()
		for _, keepAlive := range []bool{true, false} {
			tr := &http.Transport{DialContext: w.client.DialContext, DisableKeepAlives: !keepAlive}
			client := &http.Client{Transport: tr}
			for i := range 3 {
				name := fmt.Sprintf("gopher%d", i)
				if got := do(t, client, http.MethodGet, base+"/hello/"+name, ""); got != "hello, "+name {
					t.Errorf("keep-alive %v: GET /hello/%s = %q", keepAlive, name, got)
				}
			}
			body := strings.Repeat("winsock ", 20000) // 160 KB: more than the socket buffers hold
			if got := do(t, client, http.MethodPost, base+"/upper", body); got != strings.ToUpper(body) {
				t.Errorf("keep-alive %v: POST /upper returned %d bytes, want %d upper-cased", keepAlive, len(got), len(body))
			}
			tr.CloseIdleConnections()
		}

		if err := srv.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; err != http.ErrServerClosed {
			t.Errorf("Serve = %v, want http.ErrServerClosed", err)
		}
	})
}

// do sends one request and returns the body of its 200 response.
func do(t *testing.T, c *http.Client, method, url, body string) string {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s: %s", method, url, resp.Status, b)
	}
	return string(b)
}

var _ = winnet.Options{}
