package handles_test

import (
	"flag"
	"os"
	"testing"
)

// minRapidChecks is the number of rapid checks a plain go test run does in
// this package: rapid's own default is 100. -rapid.checks or RAPID_CHECKS
// still decide when given.
const minRapidChecks = "500"

func TestMain(m *testing.M) {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "rapid.checks" })
	if _, env := os.LookupEnv("RAPID_CHECKS"); !given && !env {
		if err := flag.Set("rapid.checks", minRapidChecks); err != nil {
			panic(err)
		}
	}
	os.Exit(m.Run())
}
