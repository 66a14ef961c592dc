package render

import (
	"fmt"
	"strings"

	"github.com/regtrace/regtrace/explain"
)

// foldOver is how many findings of one kind a report prints in full
// before it folds the rest into one line: a node's journal can hold the
// same failed pull thousands of times (a pod in ImagePullBackOff retries
// for days), and a report that repeats it is one nobody reads.
const foldOver = 3

// foldNames is how many repositories a folded line names.
const foldNames = 10

// shown is a finding to print in full, with the findings of its kind
// folded under it (none unless its kind passed foldOver).
type shown struct {
	f      explain.Finding
	folded []explain.Finding
}

// fold keeps the report's order: the first findings of each kind (rule,
// verdict, peer, client, registry) in full, the rest of a kind of more
// than foldOver under its first. JSON never folds: it lists each.
func fold(fs []explain.Finding) []shown {
	type kind struct {
		rule      explain.Rule
		verdict   explain.Verdict
		suspected bool
		peer      string
		client    string
		registry  string
	}
	count := map[kind]int{}
	for _, f := range fs {
		count[kind{f.Rule, f.Verdict, f.Suspected, f.Peer, f.Client, f.Registry}]++
	}
	first := map[kind]int{} // index in out of a kind's first finding
	out := make([]shown, 0, min(len(fs), 64))
	for _, f := range fs {
		k := kind{f.Rule, f.Verdict, f.Suspected, f.Peer, f.Client, f.Registry}
		if i, ok := first[k]; ok && count[k] > foldOver && !f.Primary {
			out[i].folded = append(out[i].folded, f)
			continue
		}
		if _, ok := first[k]; !ok {
			first[k] = len(out)
		}
		out = append(out, shown{f: f})
	}
	return out
}

// foldedLine says what a folded kind holds: how many more operations and
// which repositories, the first foldNames of them.
func foldedLine(fs []explain.Finding) string {
	var names []string
	seen := map[string]bool{}
	more := 0
	for _, f := range fs {
		if f.Repo == "" || seen[f.Repo] {
			continue
		}
		seen[f.Repo] = true
		if len(names) < foldNames {
			names = append(names, f.Repo)
		} else {
			more++
		}
	}
	s := fmt.Sprintf("The same finding for %d more operation%s", len(fs), plural(len(fs)))
	if len(names) > 0 {
		if len(names)+more == 1 {
			s += " (repository "
		} else {
			s += " (repositories "
		}
		s += strings.Join(names, ", ")
		if more > 0 {
			s += fmt.Sprintf(" and %d more", more)
		}
		s += ")"
	}
	return s + "; --format json lists each."
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
