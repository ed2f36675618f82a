package ui

import (
	"bytes"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// pageNames are the templates under templates/, each rendered inside layout.html.
var pageNames = []string{"error", "login", "projects", "project", "pipeline", "run", "model", "version", "monitor", "deployment"}

var funcs = template.FuncMap{
	"fmtTime":        fmtTime,
	"fmtNum":         fmtNum,
	"fmtNumPtr":      fmtNumPtr,
	"status":         statusText,
	"join":           strings.Join,
	"projectHref":    projectHref,
	"kindHref":       kindHref,
	"pipelineHref":   pipelineHref,
	"runHref":        runHref,
	"modelHref":      modelHref,
	"versionHref":    versionHref,
	"monitorHref":    monitorHref,
	"deploymentHref": deploymentHref,
	"percent":        func(v float64) string { return fmtNum(v*100) + "%" },
	"base":           func() string { return Base },
	"add":            func(a, b float64) float64 { return a + b },
	"sub":            func(a, b float64) float64 { return a - b },
	"half":           func(a float64) float64 { return a / 2 },
	"derefF":         func(p *float64) float64 { return *p },
	"derefI":         func(p *int64) int64 { return *p },
	"derefB":         func(p *bool) bool { return *p },
}

func parsePages(now func() time.Time) (map[string]*template.Template, error) {
	pages := make(map[string]*template.Template, len(pageNames))
	dur := func(start, end *time.Time) string { return fmtDuration(start, end, now()) }
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).Funcs(template.FuncMap{"dur": dur}).ParseFS(assets, "templates/layout.html", "templates/parts.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("ui: template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

type page interface{ base() *pageBase }

// render writes a whole page or, if a template fails, a plain 500: nothing
// half-written reaches the browser.
func (h *handler) render(w http.ResponseWriter, r *http.Request, status int, name string, data page) {
	b := data.base()
	if p := principalFrom(r.Context()); p != nil {
		b.Who, b.Scope = p, scopeText(p)
	}
	var buf bytes.Buffer
	if err := h.pages[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		h.log.ErrorContext(r.Context(), "ui: render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fmtTime shows a time in UTC to the second; "" for none.
func fmtTime(v any) string {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case *time.Time:
		if x == nil {
			return ""
		}
		t = *x
	}
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// fmtNum shows a metric: four significant digits, no exponent for everyday sizes.
func fmtNum(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return strconv.FormatFloat(v, 'g', -1, 64)
	case v == 0:
		return "0"
	case math.Abs(v) >= 1e-4 && math.Abs(v) < 1e7:
		s := strconv.FormatFloat(v, 'f', max(0, 3-int(math.Floor(math.Log10(math.Abs(v))))), 64)
		if strings.Contains(s, ".") {
			s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		}
		return s
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

func fmtNumPtr(v *float64) string {
	if v == nil {
		return "–"
	}
	return fmtNum(*v)
}

// statusText turns a state such as rolled_back or insufficient_data into words.
func statusText(s string) string { return strings.ReplaceAll(s, "_", " ") }

// fmtDuration is how long something ran (until now if it has not finished).
func fmtDuration(start, end *time.Time, now time.Time) string {
	if start == nil {
		return ""
	}
	stop := now
	if end != nil {
		stop = *end
	}
	d := stop.Sub(*start)
	switch {
	case d < 0:
		d = 0
		fallthrough
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
	case d < time.Hour:
		return fmt.Sprintf("%dm %02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh %02dm", int(d.Hours()), int(d.Minutes())%60)
}
