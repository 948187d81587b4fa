package wsspi_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"testing"
)

// The bad-input suite: the ways a careless or hostile client, or a buggy
// provider, can misuse the public API, each of which must end in a Windows
// error and lose nothing (no crash, no hang, no leaked handle or
// goroutine, no lost or doubled completion). Each attack runs in a child
// process of its own, the test binary run again for that attack alone, so
// that one that crashes or hangs does not hide the others; the parent
// reports the child's output when it fails. Every attack starts with a
// goroutine-leak check, so a goroutine left behind fails it too.

// attack is one entry of the suite.
type attack struct {
	name string
	run  func(t *testing.T)
}

// attackEnv names the attack a child process runs.
const attackEnv = "WSSPI_BADINPUT_ATTACK"

// attacks is the suite, in the order it runs. The entries are defined
// beside the code they attack, in badinput_*_test.go.
var attacks []attack

// addAttacks appends to the suite; each badinput_*_test.go file calls it
// from a package-level var initializer.
func addAttacks(as ...attack) bool {
	attacks = append(attacks, as...)
	return true
}

var validAttackName = regexp.MustCompile(`^[A-Za-z0-9]+$`)

func TestBadInput(t *testing.T) {
	if name := os.Getenv(attackEnv); name != "" {
		for _, a := range attacks {
			if a.name == name {
				t.Run(a.name, func(t *testing.T) {
					checkNoGoroutineLeak(t)
					a.run(t)
				})
				return
			}
		}
		t.Fatalf("no attack named %q", name)
	}
	seen := map[string]bool{}
	for _, a := range attacks {
		if !validAttackName.MatchString(a.name) || seen[a.name] {
			t.Fatalf("attack name %q is not a unique identifier", a.name)
		}
		seen[a.name] = true
		t.Run(a.name, func(t *testing.T) {
			t.Parallel()
			runAttackInChild(t, a.name)
		})
	}
}

// runAttackInChild runs one attack in a child process and fails with its
// output if the child fails, crashes or hangs.
func runAttackInChild(t *testing.T, name string) {
	args := []string{"-test.run=^TestBadInput$/^" + name + "$", "-test.count=1", "-test.timeout=30s"}
	if testing.Verbose() {
		args = append(args, "-test.v")
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), attackEnv+"="+name, fmt.Sprintf("GOMAXPROCS=%d", runtime.GOMAXPROCS(0)))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		t.Fatalf("attack %s failed (%v):\n%s", name, err, out.Bytes())
	case err != nil:
		t.Fatalf("attack %s did not run: %v", name, err)
	case !bytes.Contains(out.Bytes(), []byte("PASS")):
		t.Fatalf("attack %s ran no test:\n%s", name, out.Bytes())
	}
}
