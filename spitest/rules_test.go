package spitest_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi/spitest"
)

// TestRulesCiteFacts: every rule a finding quotes resolves inside the
// repository. Each source key of a Winsock rule is a row of the Source
// keys table of docs/facts.md, its Facts names numbered sections of that
// sheet, and every piece of its Quote (the parts between … and
// [brackets]) is the sheet's words in one of those sections; a rule of
// the kit's own (Source "spitest") is stated in the package documentation
// in the words of its Quote.
func TestRulesCiteFacts(t *testing.T) {
	facts, err := os.ReadFile(filepath.Join("..", "docs", "facts.md"))
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	sections := map[string]string{} // number → normalized text, heading to next heading
	keyRow := regexp.MustCompile("^\\| `([^`]+)` \\|")
	heading := regexp.MustCompile(`^#{2,4} (?:(\d+(?:\.\d+)*)\.? )?`)
	cur, text := "", []string{}
	flush := func() {
		if cur != "" {
			sections[cur] = normalize(strings.Join(text, " "))
		}
	}
	for line := range strings.Lines(string(facts)) {
		if m := keyRow.FindStringSubmatch(line); m != nil {
			keys[m[1]] = true
		}
		if m := heading.FindStringSubmatch(line); m != nil {
			flush()
			cur, text = m[1], nil
		}
		text = append(text, line)
	}
	flush()
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var comment []string
	for line := range strings.Lines(string(doc)) {
		if c, ok := strings.CutPrefix(strings.TrimSpace(line), "//"); ok {
			comment = append(comment, c)
		}
	}
	kitDoc := normalize(strings.Join(comment, " "))

	factsRef := regexp.MustCompile(`^docs/facts\.md §\d+(?:\.\d+)*(?:, §\d+(?:\.\d+)*)*$`)
	piece := regexp.MustCompile(`…|\[[^\]]*\]`)
	names := map[string]bool{}
	for _, r := range spitest.Rules() {
		if r.Name == "" || names[r.Name] || r.Quote == "" {
			t.Errorf("rule %+v: a rule has a name of its own and a quote", r)
		}
		names[r.Name] = true
		kit, sheet := false, false
		for src := range strings.SplitSeq(r.Source, ", ") {
			key, _, _ := strings.Cut(src, " ") // "S:overlap CheckForContextCleanup": the key and a function
			switch {
			case key == "spitest":
				kit = true
			case keys[key]:
				sheet = true
			default:
				t.Errorf("rule %s: source %q is not a row of the Source keys table of docs/facts.md, nor spitest", r.Name, src)
			}
		}
		var texts []string
		switch {
		case sheet && !factsRef.MatchString(r.Facts):
			t.Errorf("rule %s cites the fact sheet, but its Facts %q is not of the form \"docs/facts.md §N.M, §N.M\"", r.Name, r.Facts)
		case !sheet && r.Facts != "":
			t.Errorf("rule %s cites no source key of the fact sheet, but names sections %q", r.Name, r.Facts)
		case sheet:
			for _, n := range regexp.MustCompile(`\d+(?:\.\d+)*`).FindAllString(r.Facts, -1) {
				if s, ok := sections[n]; ok {
					texts = append(texts, s)
				} else {
					t.Errorf("rule %s: docs/facts.md has no section §%s", r.Name, n)
				}
			}
		}
		if kit {
			texts = append(texts, kitDoc)
		}
		for _, p := range piece.Split(r.Quote, -1) {
			p = normalize(strings.Trim(p, " .,;:"))
			if p == "" {
				continue
			}
			found := false
			for _, s := range texts {
				found = found || strings.Contains(s, p)
			}
			if !found {
				t.Errorf("rule %s quotes %q, which is not in %s", r.Name, p, where(r, kit))
			}
		}
	}
	var missing []string
	for _, n := range []string{"CompletesOnce", "StreamOrder", "HandleClose", "Factory", "NoPanic"} {
		if !names[n] {
			missing = append(missing, n)
		}
	}
	if diff := cmp.Diff([]string(nil), missing); diff != "" {
		t.Errorf("Rules() lacks rules the kit reports (-want +got):\n%s", diff)
	}
}

func where(r spitest.Rule, kit bool) string {
	switch {
	case kit && r.Facts != "":
		return r.Facts + " nor in the package documentation"
	case kit:
		return "the package documentation"
	}
	return r.Facts
}

// normalize drops Markdown emphasis and code marks, folds case and
// collapses white space, so a quote matches the sheet's words however
// they are set.
func normalize(s string) string {
	s = strings.NewReplacer("**", "", "`", "").Replace(s)
	return strings.ToLower(strings.Join(strings.Fields(s), " "))
}
