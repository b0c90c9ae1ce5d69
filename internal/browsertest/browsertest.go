// Package browsertest drives a real headless Chromium from Go tests
// (chromedp), for the pages modelgate serves to people.
//
// Without a Chromium the tests skip on a laptop and fail in CI (CI=true):
// the browser tests are part of what CI proves. .ci/run installs the
// Debian package chromium when it is missing.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Phone is the viewport of every page: a phone's, so a test proves the page
// is readable there (and the screenshots show it).
const (
	PhoneWidth  = 412
	PhoneHeight = 915
)

// execPath finds Chromium: $CHROMIUM, then the usual names.
func execPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// New returns a context that drives a new headless Chromium (one tab),
// closed when the test ends. It skips the test when no Chromium is
// installed, and fails it instead when $CI is set.
func New(t *testing.T) context.Context {
	t.Helper()
	path := execPath()
	if path == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("no Chromium found (install the Debian package chromium, or set $CHROMIUM); browser tests must run in CI")
		}
		t.Skip("no Chromium found (install the Debian package chromium); set CI=true to make this a failure")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // CI containers run as root
		chromedp.WindowSize(PhoneWidth, PhoneHeight),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start Chromium %s: %v", path, err)
	}
	return ctx
}

// Screenshot saves a full-page PNG of the current page as name.png in the
// screenshot directory ($MODELGATE_SCREENSHOTS, or .screenshots/ in the
// test's package directory, which git ignores) and returns its path.
func Screenshot(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	dir := os.Getenv("MODELGATE_SCREENSHOTS")
	if dir == "" {
		dir = ".screenshots"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	safe := regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(t.Name()+"-"+name, "_")
	path := filepath.Join(dir, safe+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
	return path
}
