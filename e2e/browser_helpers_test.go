package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
)

// browserScreenshots is where the browser tests save their screenshots:
// artifacts/screenshots/ at the repository root (git-ignored).
var browserScreenshots = filepath.Join("..", "artifacts", "screenshots")

// browserWait bounds every wait for the page; a test that fails does not
// hang for the package timeout.
const browserWait = 10 * time.Second

// startBrowser starts headless Debian chromium through chromedp's exec
// allocator, with exactly the flags that work on a closed network (see
// .library/env/machines/go.md) and a fresh user-data dir. It fails — never
// skips — when chromium is missing: CI must run these tests.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("the browser tests need Debian's chromium on PATH (%v); install it with `make chromium` (apt-get install chromium)", err)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc() // waits for the browser process to exit
	})
	start, cancelStart := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelStart()
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(ctx) }() // starts the browser, bound to ctx (not to the timeout)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("start chromium: %v", err)
		}
	case <-start.Done():
		t.Fatal("chromium did not start within 30s")
	}
	return ctx
}

// browserTab is one tab in a browser context of its own (its own storage,
// like a separate visitor), showing the system's web page.
type browserTab struct {
	t    *testing.T
	ctx  context.Context
	base string // the gateway's URL

	mu         sync.Mutex
	exceptions []string
	consoleEnd chan struct{}
}

// openTab opens a tab of width×height pixels and collects the page's
// uncaught exceptions, which fail the test.
func openTab(t *testing.T, browser context.Context, s *system, width, height int64) *browserTab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	tab := &browserTab{t: t, ctx: ctx, base: s.httpURL, consoleEnd: make(chan struct{})}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, height)); err != nil {
		cancel()
		t.Fatalf("open a tab: %v", err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		defer close(tab.consoleEnd)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() {
				tab.mu.Lock()
				tab.exceptions = append(tab.exceptions, m.String())
				tab.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		if t.Failed() {
			tab.screenshot("FAILED-" + strings.ReplaceAll(t.Name(), "/", "-"))
			if text, err := tab.eval(`document.querySelector('main')?.innerText || ''`); err == nil {
				t.Logf("the page said:\n%s", text)
			}
		}
		cancel()
		<-tab.consoleEnd
		tab.mu.Lock()
		defer tab.mu.Unlock()
		for _, e := range tab.exceptions {
			t.Errorf("uncaught exception in the page: %s", e)
		}
	})
	return tab
}

// run runs steps with the common deadline and fails the test on error.
func (b *browserTab) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// open loads the page at fragment (e.g. "#/events/x") from scratch, as a
// new visit would (a change of fragment alone would not reload the page).
func (b *browserTab) open(fragment string) {
	b.t.Helper()
	b.run("open "+fragment, chromedp.Navigate("about:blank"), chromedp.Navigate(b.base+"/"+fragment))
	b.waitReady()
}

// navigated waits until the fragment satisfies a JavaScript condition on
// hash (e.g. "hash.includes('page=2')") and its view is complete.
func (b *browserTab) navigated(what, cond string) {
	b.t.Helper()
	b.waitFor(what, "((hash) => "+cond+")(location.hash)")
	b.waitReady()
}

// waitReady waits until the current view has finished rendering.
func (b *browserTab) waitReady() {
	b.t.Helper()
	b.waitFor("the view to be ready", `document.querySelector('main[data-ready]:not([aria-busy])')?.dataset.ready === location.hash`)
}

// waitFor polls a JavaScript condition until it holds.
func (b *browserTab) waitFor(what, cond string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait+time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(browserWait))); err != nil {
		b.t.Fatalf("waiting for %s (%s): %v", what, cond, err)
	}
}

// eval evaluates a JavaScript expression that gives a string.
func (b *browserTab) eval(expr string) (string, error) {
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[string](expr))
}

// text returns the trimmed text of the first element matching a CSS selector.
func (b *browserTab) text(css string) string {
	b.t.Helper()
	s, err := b.eval(fmt.Sprintf(`(document.querySelector(%q)?.innerText ?? '<no element %s>').trim()`, css, css))
	if err != nil {
		b.t.Fatalf("text of %s: %v", css, err)
	}
	return s
}

// count returns how many elements match a CSS selector.
func (b *browserTab) count(css string) int {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, css)))
	if err != nil {
		b.t.Fatalf("count %s: %v", css, err)
	}
	return n
}

// attr returns an attribute of the first element matching a CSS selector.
func (b *browserTab) attr(css, name string) string {
	b.t.Helper()
	s, err := b.eval(fmt.Sprintf(`document.querySelector(%q)?.getAttribute(%q) ?? ''`, css, name))
	if err != nil {
		b.t.Fatalf("attribute %s of %s: %v", name, css, err)
	}
	return s
}

// click clicks the first element matching a CSS selector, once it is visible.
func (b *browserTab) click(css string) {
	b.t.Helper()
	b.run("click "+css, chromedp.Click(chromedp.CSS(css), chromedp.NodeVisible))
}

// typeInto types text into a field, as a user would.
func (b *browserTab) typeInto(css, text string) {
	b.t.Helper()
	b.run("type into "+css, chromedp.SendKeys(chromedp.CSS(css), text, chromedp.NodeVisible))
}

// fill replaces the text of a field, as a user would type it.
func (b *browserTab) fill(css, text string) {
	b.t.Helper()
	b.run("fill "+css,
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).value = ''`, css)),
		chromedp.SendKeys(chromedp.CSS(css), text, chromedp.NodeVisible))
}

// choose picks a value in a <select>.
func (b *browserTab) choose(css, value string) {
	b.t.Helper()
	b.run("choose "+value+" in "+css, chromedp.SetValue(chromedp.CSS(css), value, chromedp.NodeVisible))
}

// screenshot saves the viewport as artifacts/screenshots/<name>.png.
func (b *browserTab) screenshot(name string) {
	b.t.Helper()
	b.saveScreenshot(name, chromedp.CaptureScreenshot())
}

// screenshotPage saves the whole page, not only what the viewport shows.
func (b *browserTab) screenshotPage(name string) {
	b.t.Helper()
	b.saveScreenshot(name, chromedp.FullScreenshot(100)) // 100: PNG
}

func (b *browserTab) saveScreenshot(name string, shot chromedp.Action[[]byte]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	png, err := chromedp.Run(ctx, shot)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			b.t.Logf("screenshot %s: %v", name, err)
		}
		return
	}
	if err := os.MkdirAll(browserScreenshots, 0o755); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(browserScreenshots, name+".png"), png, 0o644); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
	}
}

// key sends a key press (e.g. "\t" for Tab, "\r" for Enter) to the page.
func (b *browserTab) key(keys string) {
	b.t.Helper()
	b.run(fmt.Sprintf("press %q", keys), chromedp.KeyEvent(keys))
}

// downloadsTo makes the tab's browser context save downloads into dir.
func (b *browserTab) downloadsTo(dir string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	info, err := chromedp.Call(ctx, target.GetTargetInfo, target.GetTargetInfoParams{})
	if err != nil || info.TargetInfo == nil {
		b.t.Fatalf("target info: %v", err)
	}
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior:         browser.SetDownloadBehaviorBehaviorAllow,
		BrowserContextID: info.TargetInfo.BrowserContextID,
		DownloadPath:     dir,
	}); err != nil {
		b.t.Fatalf("allow downloads: %v", err)
	}
}

// waitFile waits until a downloaded file is complete and returns it.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(browserWait)
	for {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			if _, err := os.Stat(path + ".crdownload"); errors.Is(err, os.ErrNotExist) {
				return string(b)
			}
		}
		if time.Now().After(deadline) {
			entries, _ := os.ReadDir(filepath.Dir(path))
			t.Fatalf("no download %s within %s (folder holds %v)", path, browserWait, entries)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// contrastJS lists the visible texts whose contrast with their background
// is under WCAG 2 AA: 4.5:1, or 3:1 for large text (24px, or 18.66px bold).
// The background is the composite of the element's ancestors' colours.
const contrastJS = `(() => {
  const parse = (c) => {
    const m = /rgba?\(([^)]+)\)/.exec(c);
    if (!m) return null;
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const blend = (top, under) => ({
    r: top.r * top.a + under.r * (1 - top.a), g: top.g * top.a + under.g * (1 - top.a),
    b: top.b * top.a + under.b * (1 - top.a), a: 1,
  });
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const background = (el) => {
    const chain = [];
    for (let e = el; e; e = e.parentElement) chain.unshift(e);
    let bg = { r: 255, g: 255, b: 255, a: 1 };
    for (const e of chain) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0) bg = blend(c, bg);
    }
    return bg;
  };
  const bad = [];
  const seen = new Set();
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walk.nextNode()) {
    const node = walk.currentNode;
    const el = node.parentElement;
    if (!node.textContent.trim() || !el || seen.has(el)) continue;
    seen.add(el);
    if (el.closest('.visually-hidden, noscript, option, [hidden]') || el.getClientRects().length === 0) continue;
    const st = getComputedStyle(el);
    if (st.visibility === 'hidden') continue;
    const bg = background(el);
    const fg = blend(parse(st.color), bg);
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(st.fontSize);
    const need = size >= 24 || (Number(st.fontWeight) >= 700 && size >= 18.66) ? 3 : 4.5;
    if (ratio < need) bad.push(el.tagName.toLowerCase() + ' "' + node.textContent.trim().slice(0, 40) + '": ' + ratio.toFixed(2) + ':1');
  }
  return bad.join('\n');
})()`

// checkPage fails the test for texts of too little contrast on the page,
// and for JavaScript values shown as text ("null", "undefined", …).
func (b *browserTab) checkPage(page string) {
	b.t.Helper()
	text, err := b.eval(`document.body.innerText`)
	if err != nil {
		b.t.Fatalf("page text: %v", err)
	}
	for _, w := range []string{"null", "undefined", "NaN", "[object"} {
		if strings.Contains(text, w) {
			b.t.Errorf("%s: the page shows %q:\n%s", page, w, text)
		}
	}
	bad, err := b.eval(contrastJS)
	if err != nil {
		b.t.Fatalf("contrast check: %v", err)
	}
	if bad != "" {
		b.t.Errorf("%s: text with too little contrast (WCAG AA):\n%s", page, bad)
	}
}
