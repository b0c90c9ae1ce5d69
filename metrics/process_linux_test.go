package metrics

import "testing"

// The command name may hold spaces and parentheses; fields are counted
// from the last ')'.
func TestParseProcStat_ReadsTheFieldsAfterAnAwkwardCommandName(t *testing.T) {
	t.Parallel()
	const stat = "4242 (mcp (server) x) S 1 4242 4242 0 -1 4194560 1097 0 0 0 " +
		"153 47 0 0 20 0 9 0 77000 1600225280 5491 18446744073709551615 1 1 0 0 0 0 0 0 2143420159 0 0 0 17 1 0 0 0 0 0\n"
	got, err := parseProcStat([]byte(stat))
	if err != nil {
		t.Fatal(err)
	}
	want := procStat{utime: 153, stime: 47, starttime: 77000, vsize: 1600225280, rss: 5491}
	if got != want {
		t.Errorf("parseProcStat = %+v, want %+v", got, want)
	}
	for _, bad := range []string{"", "4242 (x) S 1 2 3", "4242 (x) S 1 4242 4242 0 -1 4194560 1097 0 0 0 u 47 0 0 20 0 9 0 77000 1600225280 5491"} {
		if _, err := parseProcStat([]byte(bad)); err == nil {
			t.Errorf("parseProcStat(%q) = nil error", bad)
		}
	}
}
