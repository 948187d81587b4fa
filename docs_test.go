package wsspi_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// citeKey matches a source key as the code cites it: D:wspsend,
// H:ws2spi.h, W:errors, S:overlap, R:dcatalog, G:poll, and the dash keys
// W-ERR, W-WS-OLD, UV-WS, D-IOCTL (also followed by a tail, as in
// UV-TCP:name). A key ends in a letter or digit, so a sentence's full stop
// is not part of it.
var citeKey = regexp.MustCompile(`\b(?:(?:D|H|W|S|R|G|LSP|RO|GO|MIO|WEP|OSR|W-[A-Z]+|UV-[A-Z]+)[-:][A-Za-z0-9_][A-Za-z0-9_.-]*|(?:D|W|UV)-[A-Z]+(?:-[A-Z]+)*)`)

// sectionRef matches "docs/facts.md §N.M" and any further sections listed
// right after it ("docs/facts.md §2.4, §3.6 and §5").
var sectionRef = regexp.MustCompile(`docs/facts\.md(?:(?:,| and|;)?\s*(?://\s*)?§\d+(?:\.\d+)*)+`)

var section = regexp.MustCompile(`§(\d+(?:\.\d+)*)`)

// outside names documents that live outside the repository.
var outside = regexp.MustCompile(`DESIGN\.md|spec sheet|spec §|real-systems|more-facts|winsock-spi\.md`)

// TestEveryCitationResolves checks that every citation in the module's Go
// files points inside the repository: each source key (D:wspsend, W-ERR,
// ...) is a row of the Source keys table of docs/facts.md, each
// "docs/facts.md §N.M" names a numbered section heading there, no "§N" is
// cited without naming docs/facts.md, and no comment sends the reader to a
// document outside the repository.
func TestEveryCitationResolves(t *testing.T) {
	facts, err := os.ReadFile(filepath.Join("docs", "facts.md"))
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	sections := map[string]bool{}
	keyRow := regexp.MustCompile("^\\| `([^`]+)` \\|")
	heading := regexp.MustCompile(`^#{2,4} (\d+(?:\.\d+)*)\.? `)
	for line := range strings.Lines(string(facts)) {
		if m := keyRow.FindStringSubmatch(line); m != nil {
			keys[m[1]] = true
		}
		if m := heading.FindStringSubmatch(line); m != nil {
			sections[m[1]] = true
		}
	}
	if len(keys) == 0 || len(sections) == 0 {
		t.Fatalf("docs/facts.md: found %d source keys and %d numbered sections", len(keys), len(sections))
	}

	var nKeys, nSections int
	seenKeys, seenSections := map[string]bool{}, map[string]bool{}
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != "." && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || path == "docs_test.go" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		src := string(b)
		lineOf := func(off int) int { return 1 + strings.Count(src[:off], "\n") }

		for _, m := range citeKey.FindAllStringIndex(src, -1) {
			key := strings.TrimRight(src[m[0]:m[1]], ".-")
			nKeys++
			seenKeys[key] = true
			if !keys[key] {
				t.Errorf("%s:%d: source key %s is not in the Source keys table of docs/facts.md", path, lineOf(m[0]), key)
			}
		}
		cited := map[int]bool{}
		for _, m := range sectionRef.FindAllStringIndex(src, -1) {
			for _, s := range section.FindAllStringSubmatchIndex(src[m[0]:m[1]], -1) {
				cited[m[0]+s[0]] = true
				n := src[m[0]+s[2] : m[0]+s[3]]
				nSections++
				seenSections[n] = true
				if !sections[n] {
					t.Errorf("%s:%d: docs/facts.md has no section §%s", path, lineOf(m[0]+s[0]), n)
				}
			}
		}
		for _, s := range section.FindAllStringIndex(src, -1) {
			if !cited[s[0]] {
				t.Errorf("%s:%d: %s cited without naming docs/facts.md", path, lineOf(s[0]), src[s[0]:s[1]])
			}
		}
		for _, m := range outside.FindAllStringIndex(src, -1) {
			t.Errorf("%s:%d: %q names a document outside the repository; cite docs/facts.md or docs/design.md", path, lineOf(m[0]), src[m[0]:m[1]])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d citations of %d source keys and %d citations of %d sections checked", nKeys, len(seenKeys), nSections, len(seenSections))
}
