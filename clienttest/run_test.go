package clienttest_test

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/clienttest"
)

// TestRunHelper is run by the tests below in a child process, where
// its failures are the point; it does nothing in a plain run.
func TestRunHelper(t *testing.T) {
	switch os.Getenv("CLIENTTEST_HELPER") {
	case "port":
		clienttest.Run(t, portRecv, clienttest.Names("Kit/tcp4", "Naive/tcp4"))
	case "stuck":
		clienttest.Run(t, func(*wsspi.Machine) error { select {} }, clienttest.Names("NoLSP/seed1", "Kit/tcp4"))
	}
}

// runHelper runs TestRunHelper in a child process with the environment
// env added, and returns its verbose output.
func runHelper(t *testing.T, env ...string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestRunHelper$", "-test.v")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if _, ok := err.(*exec.ExitError); !ok && err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestRunReportsEachFailureWithTheCommandThatReplaysIt(t *testing.T) {
	out := runHelper(t, "CLIENTTEST_HELPER=port")
	wantLines(t, out,
		"--- PASS: TestRunHelper/Kit/tcp4 ",
		"--- PASS: TestRunHelper/Kit/tcp4/seed2 ",
		"--- FAIL: TestRunHelper/Naive/tcp4 ",
		"--- FAIL: TestRunHelper/Naive/tcp4/seed1 ",
		"configuration Naive/tcp4/seed1: timeout: the scenario did not return within 10s",
		"replay: CLIENTTEST_CONFIGS=Naive/tcp4/seed1 go test -run '^TestRunHelper$'",
		"clienttest matrix:",
		"Naive/tcp4  timeout  timeout  timeout",
	)
	if n := strings.Count(out, "trace of this configuration:"); n != 1 {
		t.Errorf("%d traces in the output, want 1, of the first failure:\n%s", n, out)
	}

	replay := runHelper(t, "CLIENTTEST_HELPER=port", "CLIENTTEST_CONFIGS=Naive/tcp4/seed1")
	ran := regexp.MustCompile(`--- (PASS|FAIL): TestRunHelper/\S+`).FindAllString(replay, -1)
	if len(ran) != 1 || ran[0] != "--- FAIL: TestRunHelper/Naive/tcp4/seed1" {
		t.Errorf("the replay ran %q, want Naive/tcp4/seed1 alone, failing", ran)
	}
	line := regexp.MustCompile(`configuration Naive/tcp4/seed1: .*`)
	if a, b := line.FindString(out), line.FindString(replay); a == "" || a != b {
		t.Errorf("the replay reports %q, the first run %q", b, a)
	}
}

// A scenario stuck on something of its own, which the machine's shutdown
// cannot reach, ends its bubble in a deadlock: Run reports the timeout
// and goes on to the next configuration.
func TestRunReportsAScenarioStuckOnItsOwnAndGoesOn(t *testing.T) {
	out := runHelper(t, "CLIENTTEST_HELPER=stuck")
	wantLines(t, out,
		"--- FAIL: TestRunHelper/NoLSP/seed1 ",
		"nor once the machine shut down",
		"--- FAIL: TestRunHelper/Kit/tcp4 ",
		"4 of 4 configurations failed",
	)
}

// wantLines checks that out holds each of wants.
func wantLines(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("the output lacks %q:\n%s", w, out)
		}
	}
}
