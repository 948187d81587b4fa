package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestOnlyTheFallbacksSurviveALayerThatRefusesTheBaseHandleAndNoneOneThatFakesIt(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	want := `layers over TCP/IPv4                SIO_BASE_HANDLE only                                mio's fallbacks                                     wepoll's loop
none                                readable                                            readable                                            readable
Kit                                 readable                                            readable                                            readable
FailBaseHandle                      lookup fails: WSAEFAULT                             readable                                            readable
FailBaseHandle over Kit             lookup fails: WSAEFAULT                             readable                                            readable
FailBaseHandle over IFSPassThrough  lookup fails: WSAEFAULT                             readable                                            readable
OwnBaseHandle                       AFD poll fails: STATUS_INVALID_HANDLE (0xC0000008)  AFD poll fails: STATUS_INVALID_HANDLE (0xC0000008)  AFD poll fails: STATUS_INVALID_HANDLE (0xC0000008)
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}
