package executor

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestLabelValue(t *testing.T) {
	valid := regexp.MustCompile(`^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`)
	long := strings.Repeat("feature_engineering-", 5)
	for _, v := range []string{"fit", "train_v2", "12", long, long + "x", "a/b c", "-x-", "ü", "", strings.Repeat("a", 63)} {
		got := labelValue(v)
		if len(got) > 63 || !valid.MatchString(got) {
			t.Errorf("labelValue(%q) = %q: not a valid label value", v, got)
		}
	}
	if labelValue("train_v2") != "train_v2" {
		t.Error("a valid value must stay as it is")
	}
	if labelValue(long) == labelValue(long+"x") {
		t.Error("distinct long values must stay distinct")
	}
}

func TestJobName(t *testing.T) {
	dns := regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	s := Step{RunID: "churn/train/12", Name: "fit", Attempt: 1, Env: map[string]string{"MLOPS_PROJECT": "churn", "MLOPS_PIPELINE": "train"}}
	name := jobName(s)
	if !strings.HasPrefix(name, "mlops-train-12-fit-1-") || !dns.MatchString(name) {
		t.Fatalf("jobName = %q", name)
	}
	seen := map[string]bool{name: true}
	long := strings.Repeat("Feature_Engineering", 5)
	for _, v := range []Step{
		{RunID: "other/train/12", Name: "fit", Attempt: 1, Env: map[string]string{"MLOPS_PROJECT": "other", "MLOPS_PIPELINE": "train"}},
		{RunID: "churn/train/12", Name: "fit", Attempt: 2, Env: s.Env},
		{RunID: "churn/" + long + "/99999", Name: long, Attempt: 10, Env: map[string]string{"MLOPS_PIPELINE": long}},
		{RunID: "churn/" + long + "/99999", Name: long + "_2", Attempt: 10, Env: map[string]string{"MLOPS_PIPELINE": long}},
	} {
		n := jobName(v)
		if len(n) > 63 || !dns.MatchString(n) || seen[n] {
			t.Errorf("jobName(%+v) = %q: invalid or not unique", v, n)
		}
		seen[n] = true
	}
}

func TestCopyLogLinesResumesWithoutRepeating(t *testing.T) {
	var out bytes.Buffer
	first := "2025-01-31T10:00:00.100000000Z epoch 1\n2025-01-31T10:00:00.200000000Z epoch 2\n2025-01-31T10:00:01.5Z partial"
	n, stamped, last, err := copyLogLines(&out, strings.NewReader(first), time.Time{})
	if err != nil || !stamped || n != len("epoch 1\nepoch 2\npartial") {
		t.Fatalf("n=%d stamped=%v err=%v", n, stamped, err)
	}
	// A resumed stream starts at the second of the last line and repeats it.
	again := "2025-01-31T10:00:01.5Z partial\n2025-01-31T10:00:02Z epoch 3\n"
	if _, _, _, err := copyLogLines(&out, strings.NewReader(again), last); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "epoch 1\nepoch 2\npartialepoch 3\n" {
		t.Fatalf("log = %q", got)
	}

	out.Reset()
	if _, stamped, _, _ := copyLogLines(&out, strings.NewReader("no timestamp here\n"), time.Time{}); stamped || out.String() != "no timestamp here\n" {
		t.Fatalf("unstamped line: %q", out.String())
	}
}

func TestEscapeExpansion(t *testing.T) {
	if got := escapeExpansion("echo $(date) $$ $HOME"); got != "echo $$(date) $$$$ $$HOME" {
		t.Fatalf("got %q", got)
	}
}
