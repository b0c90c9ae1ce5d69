package metrics

import (
	"math"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestAppendText_EscapesHelpAndLabelValuesAsTheFormatSays(t *testing.T) {
	t.Parallel()
	fams := []family{{
		name: "x_total", typ: typeCounter,
		help: `a \ backslash, a "quote" and` + "\na new line",
		samples: []sample{
			{labels: []labelPair{{"a", `q"uote`}, {"b", `back\slash`}, {"c", "new\nline"}}, value: 1},
			{labels: []labelPair{{"a", "bad \xff utf-8"}, {"b", ""}, {"c", "ok"}}, value: 2},
		},
	}}
	const want = `# HELP x_total a \\ backslash, a "quote" and\na new line
# TYPE x_total counter
x_total{a="q\"uote",b="back\\slash",c="new\nline"} 1
x_total{a="bad ` + "\uFFFD" + ` utf-8",b="",c="ok"} 2
`
	got := string(appendText(nil, fams))
	if got != want {
		t.Fatalf("text:\n%s\nwant:\n%s", got, want)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	parsed, err := p.TextToMetricFamilies(strings.NewReader(got))
	if err != nil {
		t.Fatal(err)
	}
	f := parsed["x_total"]
	if f.GetHelp() != fams[0].help {
		t.Errorf("help reads back as %q", f.GetHelp())
	}
	for i, l := range f.GetMetric()[0].GetLabel() {
		if l.GetValue() != fams[0].samples[0].labels[i].value {
			t.Errorf("label %s reads back as %q", l.GetName(), l.GetValue())
		}
	}
}

func TestAppendFloat_WritesValuesAsPrometheusReadsThem(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		v    float64
		want string
	}{
		{0, "0"},
		{math.Copysign(0, -1), "0"},
		{1, "1"},
		{-1, "-1"},
		{42, "42"},
		{1234567, "1234567"}, // Prometheus' client: 1.234567e+06
		{1 << 53, "9007199254740992"},
		{1 << 54, "1.8014398509481984e+16"}, // beyond 2^53 a float64 no longer holds every integer
		{math.MaxInt64, "9.223372036854776e+18"},
		{0.0005, "0.0005"},
		{0.25, "0.25"},
		{2.5, "2.5"},
		{1e-7, "1e-07"},
		{-0.003, "-0.003"},
		{math.Inf(+1), "+Inf"},
		{math.Inf(-1), "-Inf"},
		{math.NaN(), "NaN"},
	} {
		if got := string(appendFloat(nil, c.v)); got != c.want {
			t.Errorf("appendFloat(%v) = %s, want %s", c.v, got, c.want)
		}
	}
}

func TestHistogramBucketBounds_AreWrittenAsTheClientWroteThem(t *testing.T) {
	t.Parallel()
	want := "0.0005 0.001 0.0025 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 +Inf"
	if got := strings.Join(bucketBounds, " "); got != want {
		t.Errorf("le values %s, want %s", got, want)
	}
}
