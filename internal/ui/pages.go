package ui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/mlopsplane/terraform-provider-mlops/internal/api"
	"github.com/mlopsplane/terraform-provider-mlops/internal/rollout"
	"github.com/mlopsplane/terraform-provider-mlops/internal/store"
)

// Page sizes: the overview shows the first few of each kind; lists, runs,
// versions and evaluations page with a cursor, newest first.
const (
	overviewLimit = 25
	listLimit     = 100
	runsLimit     = 50
	versionsLimit = 50
	evalsLimit    = 50
	maxLimit      = 200
	// lineageScan bounds the deployments and monitors a version page reads
	// to find what serves and watches the version.
	lineageScan = 200
)

type crumb struct{ Label, Href string }

// pageBase is what the layout needs from every page.
type pageBase struct {
	Title  string
	Who    *Principal
	Scope  string
	Crumbs []crumb
}

func (b *pageBase) base() *pageBase { return b }

type kv struct{ Key, Value string }

func sortedKV[V any](m map[string]V, format func(V) string) []kv {
	out := make([]kv, 0, len(m))
	for k, v := range m {
		out = append(out, kv{k, format(v)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func projectCrumbs(project string, more ...crumb) []crumb {
	return append([]crumb{{"Projects", Base + "/"}, {project, projectHref(project)}}, more...)
}

// --- projects ---

type projectsData struct {
	pageBase
	Projects    []api.Project
	Next, First string
}

func (h *handler) projects(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := principalFrom(ctx)
	d := &projectsData{}
	d.Title = "Projects"
	if p.Role != api.RoleAdmin && p.Project != api.AllProjects {
		// A token scoped to one project sees just that one, as GET /v1/projects.
		proj, o, err := get[api.Project](ctx, h.cfg.Store, store.ProjectKey(p.Project))
		switch {
		case err == nil:
			proj.Meta = meta(o)
			d.Projects = []api.Project{proj}
		case !errors.Is(err, store.ErrNotFound):
			h.storeFailure(w, r, err)
			return
		}
	} else {
		pg := pageOf(r, listLimit, maxLimit)
		list, objs, next, err := listPage[api.Project](ctx, h.cfg.Store, store.ListQuery{Kind: store.KindProject, Limit: pg.limit, PageToken: pg.cursor})
		if err != nil {
			h.storeFailure(w, r, err)
			return
		}
		for i := range list {
			list[i].Meta = meta(objs[i])
		}
		d.Projects = list
		d.Next, d.First = pg.links(r, next)
	}
	h.render(w, r, http.StatusOK, "projects", d)
}

// --- a project: the first few of each kind, or one kind page by page ---

type pipelineRow struct {
	api.Pipeline
	Last *api.PipelineRun
}

type modelRow struct {
	api.Model
}

type monitorRow struct {
	api.Monitor
}

type deploymentRow struct {
	api.Deployment
}

type section[T any] struct {
	Rows        []T
	Next, First string
	// All links to the kind's own list when the overview shows only the first page.
	All string
	// token is the store's token of the next page.
	token string
}

type projectData struct {
	pageBase
	Project api.Project
	// Kind is set when the page lists one kind.
	Kind        string
	Pipelines   section[pipelineRow]
	Models      section[modelRow]
	Monitors    section[monitorRow]
	Deployments section[deploymentRow]
}

type projectCtxKey struct{}

func projectFrom(ctx context.Context) api.Project {
	p, _ := ctx.Value(projectCtxKey{}).(api.Project)
	return p
}

func (h *handler) project(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	proj := projectFrom(ctx)
	d := &projectData{Project: proj}
	d.Title, d.Crumbs = proj.Name, projectCrumbs(proj.Name)
	pg := paging{limit: overviewLimit, def: overviewLimit}
	var err error
	if d.Pipelines, err = h.pipelineSection(ctx, proj.Name, pg); err == nil {
		if d.Models, err = h.modelSection(ctx, proj.Name, pg); err == nil {
			if d.Monitors, err = h.monitorSection(ctx, proj.Name, pg); err == nil {
				d.Deployments, err = h.deploymentSection(ctx, proj.Name, pg)
			}
		}
	}
	if err != nil {
		h.storeFailure(w, r, err)
		return
	}
	more := func(kind, token string) string {
		if token == "" {
			return ""
		}
		return kindHref(proj.Name, kind)
	}
	d.Pipelines.All, d.Models.All = more("pipelines", d.Pipelines.token), more("models", d.Models.token)
	d.Monitors.All, d.Deployments.All = more("monitors", d.Monitors.token), more("deployments", d.Deployments.token)
	h.render(w, r, http.StatusOK, "project", d)
}

func (h *handler) kindList(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	proj := projectFrom(ctx)
	kind := chi.URLParam(r, "kind")
	d := &projectData{Project: proj, Kind: kind}
	d.Title = strings.ToUpper(kind[:1]) + kind[1:] + " of " + proj.Name
	d.Crumbs = projectCrumbs(proj.Name, crumb{Label: kind})
	pg := pageOf(r, listLimit, maxLimit)
	var err error
	var next string
	switch kind {
	case "pipelines":
		d.Pipelines, err = h.pipelineSection(ctx, proj.Name, pg)
		next = d.Pipelines.token
	case "models":
		d.Models, err = h.modelSection(ctx, proj.Name, pg)
		next = d.Models.token
	case "monitors":
		d.Monitors, err = h.monitorSection(ctx, proj.Name, pg)
		next = d.Monitors.token
	case "deployments":
		d.Deployments, err = h.deploymentSection(ctx, proj.Name, pg)
		next = d.Deployments.token
	}
	if err != nil {
		h.storeFailure(w, r, err)
		return
	}
	nextHref, firstHref := pg.links(r, next)
	for _, s := range []*string{&d.Pipelines.Next, &d.Models.Next, &d.Monitors.Next, &d.Deployments.Next} {
		*s = nextHref
	}
	for _, s := range []*string{&d.Pipelines.First, &d.Models.First, &d.Monitors.First, &d.Deployments.First} {
		*s = firstHref
	}
	h.render(w, r, http.StatusOK, "project", d)
}

// The section loaders return one page of rows and the store's token of the
// next; the callers turn it into links.

func (h *handler) pipelineSection(ctx context.Context, project string, pg paging) (section[pipelineRow], error) {
	var s section[pipelineRow]
	list, objs, next, err := listPage[api.Pipeline](ctx, h.cfg.Store, store.ListQuery{Kind: store.KindPipeline, Project: project, Limit: pg.limit, PageToken: pg.cursor})
	if err != nil {
		return s, err
	}
	s.token = next
	for i, p := range list {
		p.Meta = meta(objs[i])
		row := pipelineRow{Pipeline: p}
		last, _, _, err := listPage[api.PipelineRun](ctx, h.cfg.Store, store.ListQuery{Kind: store.KindPipelineRun, Project: project, Parent: p.Name, Desc: true, Limit: 1})
		if err != nil {
			return s, err
		}
		if len(last) > 0 {
			row.Last = &last[0]
		}
		s.Rows = append(s.Rows, row)
	}
	return s, nil
}

func (h *handler) modelSection(ctx context.Context, project string, pg paging) (section[modelRow], error) {
	var s section[modelRow]
	list, objs, next, err := listPage[api.Model](ctx, h.cfg.Store, store.ListQuery{Kind: store.KindModel, Project: project, Limit: pg.limit, PageToken: pg.cursor})
	if err != nil {
		return s, err
	}
	s.token = next
	for i, m := range list {
		if _, err := h.completeModel(ctx, &m, objs[i]); err != nil {
			return s, err
		}
		s.Rows = append(s.Rows, modelRow{m})
	}
	return s, nil
}

// completeModel adds the latest version and the aliases, as GET /v1 does,
// and returns the aliases it read.
func (h *handler) completeModel(ctx context.Context, m *api.Model, o *store.Object) ([]api.ModelAlias, error) {
	m.Meta = meta(o)
	latest, _, err := h.cfg.Store.List(ctx, store.ListQuery{Kind: store.KindModelVersion, Project: m.Project, Parent: m.Name, Desc: true, Limit: 1})
	if err != nil {
		return nil, err
	}
	m.LatestVersion = 0
	if len(latest) > 0 {
		m.LatestVersion = latest[0].Ordinal
	}
	aliases, err := h.aliases(ctx, m.Project, m.Name)
	if err != nil {
		return nil, err
	}
	m.Aliases = nil
	for _, a := range aliases {
		if m.Aliases == nil {
			m.Aliases = map[string]int64{}
		}
		m.Aliases[a.Alias] = a.Version
	}
	return aliases, nil
}

func (h *handler) monitorSection(ctx context.Context, project string, pg paging) (section[monitorRow], error) {
	var s section[monitorRow]
	list, objs, next, err := listPage[api.Monitor](ctx, h.cfg.Store, store.ListQuery{Kind: store.KindMonitor, Project: project, Limit: pg.limit, PageToken: pg.cursor})
	if err != nil {
		return s, err
	}
	s.token = next
	for i, m := range list {
		if err := h.completeMonitor(ctx, &m, objs[i]); err != nil {
			return s, err
		}
		s.Rows = append(s.Rows, monitorRow{m})
	}
	return s, nil
}

func (h *handler) deploymentSection(ctx context.Context, project string, pg paging) (section[deploymentRow], error) {
	var s section[deploymentRow]
	list, objs, next, err := listPage[api.Deployment](ctx, h.cfg.Store, store.ListQuery{Kind: store.KindDeployment, Project: project, Limit: pg.limit, PageToken: pg.cursor})
	if err != nil {
		return s, err
	}
	s.token = next
	for i, d := range list {
		if _, err := h.completeDeployment(ctx, &d, objs[i]); err != nil {
			return s, err
		}
		s.Rows = append(s.Rows, deploymentRow{d})
	}
	return s, nil
}

// --- a pipeline and its runs ---

type pipelineData struct {
	pageBase
	Pipeline    api.Pipeline
	DAG         graph
	Params      []kv
	Runs        []api.PipelineRun
	Next, First string
}

func (h *handler) pipeline(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	project, name := chi.URLParam(r, "project"), chi.URLParam(r, "name")
	p, o, err := get[api.Pipeline](ctx, h.cfg.Store, store.PipelineKey(project, name))
	if err != nil {
		h.readFailure(w, r, err, fmt.Sprintf("Pipeline %q is not in project %q.", name, project))
		return
	}
	p.Meta = meta(o)
	pg := pageOf(r, runsLimit, maxLimit)
	// One indexed read of one page, however long the history.
	runs, objs, next, err := listPage[api.PipelineRun](ctx, h.cfg.Store, store.ListQuery{
		Kind: store.KindPipelineRun, Project: project, Parent: name, Desc: true, Limit: pg.limit, PageToken: pg.cursor})
	if err != nil {
		h.storeFailure(w, r, err)
		return
	}
	for i := range runs {
		runs[i].Meta = meta(objs[i])
	}
	d := &pipelineData{Pipeline: p, Runs: runs, Params: sortedKV(p.Parameters, func(v string) string { return v })}
	d.Title = "Pipeline " + name
	d.Crumbs = projectCrumbs(project, crumb{"pipelines", kindHref(project, "pipelines")}, crumb{Label: name})
	d.Next, d.First = pg.links(r, next)
	nodes := make([]gnode, 0, len(p.Steps))
	for _, st := range p.Steps {
		nodes = append(nodes, gnode{ID: st.Name, Label: st.Name, Sub: strings.Join(st.Command, " "),
			Title: st.Name + ": " + strings.Join(st.Command, " "), Class: "state-spec", Deps: st.DependsOn})
	}
	d.DAG = layoutGraph("dag", "Steps of pipeline "+name, nodes)
	h.render(w, r, http.StatusOK, "pipeline", d)
}

// --- a run ---

type stepRow struct {
	api.RunStep
	DependsOn []string
	Log       string
	Truncated bool
}

type runData struct {
	pageBase
	Run          api.PipelineRun
	DAG          graph
	Steps        []stepRow
	Params       []kv
	Inputs       []kv
	TriggerHref  string
	VersionHref  string
	PipelineHref string
}

func (h *handler) run(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	project, pipeline := chi.URLParam(r, "project"), chi.URLParam(r, "name")
	notFound := fmt.Sprintf("Pipeline %q in project %q has no run %s.", pipeline, project, chi.URLParam(r, "id"))
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id < 1 {
		h.errorPage(w, r, http.StatusNotFound, notFound)
		return
	}
	run, o, err := get[api.PipelineRun](ctx, h.cfg.Store, store.PipelineRunKey(project, pipeline, id))
	if err != nil {
		h.readFailure(w, r, err, notFound)
		return
	}
	run.Meta = meta(o)
	// The run's own revision has the dependencies its steps ran with.
	deps := map[string][]string{}
	rev, _, err := get[api.PipelineRevision](ctx, h.cfg.Store, store.PipelineRevisionKey(project, pipeline, run.Revision))
	switch {
	case err == nil:
		for _, s := range rev.Steps {
			deps[s.Name] = s.DependsOn
		}
	case !errors.Is(err, store.ErrNotFound):
		h.storeFailure(w, r, err)
		return
	}
	logs, _, _, err := listPage[api.RunLog](ctx, h.cfg.Store, store.ListQuery{Kind: store.KindRunLog, Project: project, Parent: pipeline + "/" + strconv.FormatInt(id, 10)})
	if err != nil {
		h.storeFailure(w, r, err)
		return
	}
	logOf := map[string]api.RunLog{}
	for _, l := range logs {
		logOf[l.Step] = l
	}

	d := &runData{Run: run, PipelineHref: pipelineHref(project, pipeline),
		Params: sortedKV(run.Parameters, func(v string) string { return v }),
		Inputs: sortedKV(run.InputVersions, func(v int64) string { return "version " + strconv.FormatInt(v, 10) })}
	d.Title = fmt.Sprintf("Run %d of %s", id, pipeline)
	d.Crumbs = projectCrumbs(project, crumb{"pipelines", kindHref(project, "pipelines")}, crumb{pipeline, pipelineHref(project, pipeline)}, crumb{Label: "run " + strconv.FormatInt(id, 10)})
	if m, ok := strings.CutPrefix(run.Trigger, "monitor:"); ok {
		d.TriggerHref = monitorHref(project, m)
	}
	if run.Model != "" && run.ModelVersion > 0 {
		d.VersionHref = versionHref(project, run.Model, run.ModelVersion)
	}
	now := h.now()
	nodes := make([]gnode, 0, len(run.Steps))
	for _, s := range run.Steps {
		row := stepRow{RunStep: s, DependsOn: deps[s.Name], Log: s.LogTail}
		if l, ok := logOf[s.Name]; ok {
			row.Log, row.Truncated = l.Text, l.Truncated
		}
		d.Steps = append(d.Steps, row)
		sub := statusText(s.State)
		if dur := fmtDuration(s.StartedAt, s.FinishedAt, now); dur != "" {
			sub += " · " + dur
		}
		if s.Attempts > 1 {
			sub += fmt.Sprintf(" · %d tries", s.Attempts)
		}
		nodes = append(nodes, gnode{ID: s.Name, Label: s.Name, Sub: sub, Title: s.Name + ": " + statusText(s.State),
			Class: "state-" + s.State, Href: "#step-" + s.Name, Deps: deps[s.Name]})
	}
	d.DAG = layoutGraph("dag", fmt.Sprintf("Steps of run %d with their states", id), nodes)
	h.render(w, r, http.StatusOK, "run", d)
}

// --- a model ---

type versionRow struct {
	api.ModelVersion
	Metrics []string // in the order of modelData.MetricNames
	Passed  int
	Failing []string
	// Run is the run that registered the version, if it names one.
	Run, RunHref string
}

type modelData struct {
	pageBase
	Model       api.Model
	Aliases     []api.ModelAlias
	Versions    []versionRow
	MetricNames []string
	Next, First string
}

// maxMetricColumns keeps the versions table readable; a version's page lists all its metrics.
const maxMetricColumns = 8

func (h *handler) model(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	project, name := chi.URLParam(r, "project"), chi.URLParam(r, "name")
	m, o, err := get[api.Model](ctx, h.cfg.Store, store.ModelKey(project, name))
	if err != nil {
		h.readFailure(w, r, err, fmt.Sprintf("Model %q is not in project %q.", name, project))
		return
	}
	aliases, err := h.completeModel(ctx, &m, o)
	if err != nil {
		h.storeFailure(w, r, err)
		return
	}
	pg := pageOf(r, versionsLimit, maxLimit)
	versions, objs, next, err := listPage[api.ModelVersion](ctx, h.cfg.Store, store.ListQuery{
		Kind: store.KindModelVersion, Project: project, Parent: name, Desc: true, Limit: pg.limit, PageToken: pg.cursor})
	if err != nil {
		h.storeFailure(w, r, err)
		return
	}
	d := &modelData{Model: m, Aliases: aliases}
	d.Title = "Model " + name
	d.Crumbs = projectCrumbs(project, crumb{"models", kindHref(project, "models")}, crumb{Label: name})
	d.Next, d.First = pg.links(r, next)
	// Gate metrics first, then the others by name.
	seen := map[string]bool{}
	for _, g := range m.Gates {
		if !seen[g.Metric] {
			seen[g.Metric] = true
			d.MetricNames = append(d.MetricNames, g.Metric)
		}
	}
	var others []string
	for _, v := range versions {
		for k := range v.Metrics {
			if !seen[k] {
				seen[k] = true
				others = append(others, k)
			}
		}
	}
	sort.Strings(others)
	d.MetricNames = append(d.MetricNames, others...)
	if len(d.MetricNames) > maxMetricColumns {
		d.MetricNames = d.MetricNames[:maxMetricColumns]
	}
	for i, v := range versions {
		completeVersion(&v, objs[i], &m, aliases)
		row := versionRow{ModelVersion: v}
		if pipeline, id, ok := runOf(project, v.PipelineRunID); ok {
			row.Run, row.RunHref = fmt.Sprintf("%s #%d", pipeline, id), runHref(project, pipeline, id)
		}
		for _, k := range d.MetricNames {
			if x, ok := v.Metrics[k]; ok {
				row.Metrics = append(row.Metrics, fmtNum(x))
			} else {
				row.Metrics = append(row.Metrics, "")
			}
		}
		for _, g := range v.GateResults {
			if g.Passed {
				row.Passed++
			} else {
				row.Failing = append(row.Failing, g.Metric+" "+g.Op+" "+fmtNum(g.Threshold))
			}
		}
		d.Versions = append(d.Versions, row)
	}
	h.render(w, r, http.StatusOK, "model", d)
}

// --- a model version and its lineage ---

type versionData struct {
	pageBase
	Model   api.Model
	Version api.ModelVersion
	Metrics []kv
	Params  []kv
	Lineage graph
	RunHref string
}

func (h *handler) version(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	project, name := chi.URLParam(r, "project"), chi.URLParam(r, "name")
	notFound := fmt.Sprintf("Model %q in project %q has no version %s.", name, project, chi.URLParam(r, "version"))
	n, err := strconv.ParseInt(chi.URLParam(r, "version"), 10, 64)
	if err != nil || n < 1 {
		h.errorPage(w, r, http.StatusNotFound, notFound)
		return
	}
	m, _, err := get[api.Model](ctx, h.cfg.Store, store.ModelKey(project, name))
	if err != nil {
		h.readFailure(w, r, err, fmt.Sprintf("Model %q is not in project %q.", name, project))
		return
	}
	v, o, err := get[api.ModelVersion](ctx, h.cfg.Store, store.ModelVersionKey(project, name, n))
	if err != nil {
		h.readFailure(w, r, err, notFound)
		return
	}
	aliases, err := h.aliases(ctx, project, name)
	if err != nil {
		h.storeFailure(w, r, err)
		return
	}
	completeVersion(&v, o, &m, aliases)
	d := &versionData{Model: m, Version: v, Metrics: sortedKV(v.Metrics, fmtNum), Params: sortedKV(v.Params, func(s string) string { return s })}
	d.Title = fmt.Sprintf("%s version %d", name, n)
	d.Crumbs = projectCrumbs(project, crumb{"models", kindHref(project, "models")}, crumb{name, modelHref(project, name)}, crumb{Label: "version " + strconv.FormatInt(n, 10)})
	d.Lineage, d.RunHref, err = h.lineage(ctx, &v)
	if err != nil {
		h.storeFailure(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "version", d)
}

// lineage draws where a version came from and where it went: its input
// datasets, the run that trained it, the version, the deployments serving
// it, and the monitors watching those deployments' traffic.
func (h *handler) lineage(ctx context.Context, v *api.ModelVersion) (graph, string, error) {
	project := v.Project
	var nodes []gnode
	var runHrefOut string
	versionDeps := []string{}
	datasetNode := func(name string, version int64) string {
		id := "dataset:" + name
		sub := "dataset"
		if version > 0 {
			sub += " · version " + strconv.FormatInt(version, 10)
		}
		nodes = append(nodes, gnode{ID: id, Label: name, Sub: sub, Class: "kind-dataset"})
		return id
	}
	var run *api.PipelineRun
	if pipeline, id, ok := runOf(project, v.PipelineRunID); ok {
		got, _, err := get[api.PipelineRun](ctx, h.cfg.Store, store.PipelineRunKey(project, pipeline, id))
		switch {
		case err == nil:
			run = &got
		case !errors.Is(err, store.ErrNotFound):
			return graph{}, "", err
		default:
			nodes = append(nodes, gnode{ID: "run", Label: fmt.Sprintf("%s #%d", pipeline, id), Sub: "run · deleted", Class: "kind-run"})
			versionDeps = append(versionDeps, "run")
		}
	}
	switch {
	case run != nil:
		var inputs []string
		names := make([]string, 0, len(run.InputVersions))
		for ds := range run.InputVersions {
			names = append(names, ds)
		}
		sort.Strings(names)
		for _, ds := range names {
			inputs = append(inputs, datasetNode(ds, run.InputVersions[ds]))
		}
		if len(names) == 0 && v.Dataset != "" {
			inputs = append(inputs, datasetNode(v.Dataset, v.DatasetVersion))
		}
		runHrefOut = runHref(project, run.Pipeline, run.ID)
		nodes = append(nodes, gnode{ID: "run", Label: fmt.Sprintf("%s #%d", run.Pipeline, run.ID), Sub: "run · " + statusText(run.State),
			Class: "kind-run state-" + run.State, Href: runHrefOut, Deps: inputs})
		versionDeps = append(versionDeps, "run")
	case v.Dataset != "":
		versionDeps = append(versionDeps, datasetNode(v.Dataset, v.DatasetVersion))
	}
	sub := "model version"
	if len(v.Aliases) > 0 {
		sub += " · " + strings.Join(v.Aliases, ", ")
	}
	nodes = append(nodes, gnode{ID: "version", Label: fmt.Sprintf("%s v%d", v.Model, v.Version), Sub: sub,
		Class: "kind-version current", Href: versionHref(project, v.Model, v.Version), Deps: versionDeps})

	deployments, objs, _, err := listPage[api.Deployment](ctx, h.cfg.Store, store.ListQuery{Kind: store.KindDeployment, Project: project, Limit: lineageScan})
	if err != nil {
		return graph{}, "", err
	}
	serving := map[string]bool{}
	for i, d := range deployments {
		if d.Model != v.Model {
			continue
		}
		if _, err := h.completeDeployment(ctx, &d, objs[i]); err != nil {
			return graph{}, "", err
		}
		var role string
		switch {
		case d.StableVersion == v.Version && d.CanaryVersion != 0:
			role = fmt.Sprintf("stable %d%%", 100-d.CanaryWeight)
		case d.StableVersion == v.Version:
			role = "serving 100%"
		case d.CanaryVersion == v.Version:
			role = fmt.Sprintf("canary %d%%", d.CanaryWeight)
		case d.TargetVersion == v.Version:
			role = "target, " + statusText(d.Phase)
		default:
			continue
		}
		id := "deployment:" + d.Name
		serving[d.Name] = true
		nodes = append(nodes, gnode{ID: id, Label: d.Name, Sub: "deployment · " + role, Class: "kind-deployment phase-" + d.Phase,
			Href: deploymentHref(project, d.Name), Deps: []string{"version"}})
	}
	if len(serving) > 0 {
		monitors, mobjs, _, err := listPage[api.Monitor](ctx, h.cfg.Store, store.ListQuery{Kind: store.KindMonitor, Project: project, Limit: lineageScan})
		if err != nil {
			return graph{}, "", err
		}
		for i, m := range monitors {
			if !serving[m.Deployment] {
				continue
			}
			if err := h.completeMonitor(ctx, &m, mobjs[i]); err != nil {
				return graph{}, "", err
			}
			nodes = append(nodes, gnode{ID: "monitor:" + m.Name, Label: m.Name, Sub: "monitor · " + statusText(m.Status),
				Class: "kind-monitor status-" + m.Status, Href: monitorHref(project, m.Name), Deps: []string{"deployment:" + m.Deployment}})
		}
	}
	return layoutGraph("lineage", "Lineage of "+v.Model+" version "+strconv.FormatInt(v.Version, 10), nodes), runHrefOut, nil
}

// --- a monitor and its drift over time ---

type evalRow struct {
	api.MonitorEvaluation
	RetrainHref string
}

type monitorData struct {
	pageBase
	Monitor     api.Monitor
	Charts      []driftChart
	Latest      *api.MonitorEvaluation
	Evals       []evalRow
	Next, First string
	Thresholds  []kv
}

func (h *handler) monitor(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	project, name := chi.URLParam(r, "project"), chi.URLParam(r, "name")
	m, o, err := get[api.Monitor](ctx, h.cfg.Store, store.MonitorKey(project, name))
	if err != nil {
		h.readFailure(w, r, err, fmt.Sprintf("Monitor %q is not in project %q.", name, project))
		return
	}
	if err := h.completeMonitor(ctx, &m, o); err != nil {
		h.storeFailure(w, r, err)
		return
	}
	pg := pageOf(r, evalsLimit, maxLimit)
	evals, _, next, err := listPage[api.MonitorEvaluation](ctx, h.cfg.Store, store.ListQuery{
		Kind: store.KindMonitorEvaluation, Project: project, Parent: name, Desc: true, Limit: pg.limit, PageToken: pg.cursor})
	if err != nil {
		h.storeFailure(w, r, err)
		return
	}
	d := &monitorData{Monitor: m, Thresholds: sortedKV(m.FeatureThresholds, fmtNum)}
	d.Title = "Monitor " + name
	d.Crumbs = projectCrumbs(project, crumb{"monitors", kindHref(project, "monitors")}, crumb{Label: name})
	d.Next, d.First = pg.links(r, next)
	for _, e := range evals {
		row := evalRow{MonitorEvaluation: e}
		if e.RetrainRun != nil {
			row.RetrainHref = runHref(project, e.RetrainRun.Pipeline, e.RetrainRun.ID)
		}
		d.Evals = append(d.Evals, row)
	}
	if len(evals) > 0 && pg.cursor == "" {
		d.Latest = &evals[0]
	}
	d.Charts = driftCharts(evals)
	h.render(w, r, http.StatusOK, "monitor", d)
}

// driftCharts draws one chart per feature over the evaluations (given newest
// first), features in the order of the newest evaluation that judged them.
func driftCharts(evals []api.MonitorEvaluation) []driftChart {
	var features []string
	metricOf := map[string]string{}
	for _, e := range evals {
		for _, f := range e.Features {
			if _, ok := metricOf[f.Feature]; !ok {
				features = append(features, f.Feature)
				metricOf[f.Feature] = f.Metric
			}
		}
	}
	charts := make([]driftChart, 0, len(features))
	for i, feature := range features {
		var samples []chartSample
		for _, e := range slices.Backward(evals) {
			for _, f := range e.Features {
				// A chart is of one metric; older evaluations of another (the
				// monitor was changed) are not comparable with it.
				if f.Feature == feature && f.Metric == metricOf[feature] {
					samples = append(samples, chartSample{At: e.FinishedAt, Eval: e.ID, Value: f.Value, Threshold: f.Threshold, Status: f.Status})
				}
			}
		}
		metric := metricOf[feature]
		charts = append(charts, newDriftChart("chart-"+strconv.Itoa(i), feature, metric, api.MetricIsPValue(metric), samples))
	}
	return charts
}

// --- a deployment: traffic and rollout timeline ---

type deploymentData struct {
	pageBase
	Deployment api.Deployment
	Traffic    trafficBar
	// Timeline is newest first.
	Timeline []rollout.Event
	ModelHref, StableHref, CanaryHref,
	TargetHref string
	EnvNames []string
}

func (h *handler) deployment(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	project, name := chi.URLParam(r, "project"), chi.URLParam(r, "name")
	dep, o, err := get[api.Deployment](ctx, h.cfg.Store, store.DeploymentKey(project, name))
	if err != nil {
		h.readFailure(w, r, err, fmt.Sprintf("Deployment %q is not in project %q.", name, project))
		return
	}
	events, err := h.completeDeployment(ctx, &dep, o)
	if err != nil {
		h.storeFailure(w, r, err)
		return
	}
	d := &deploymentData{Deployment: dep, Traffic: newTrafficBar(dep.StableVersion, dep.CanaryVersion, dep.CanaryWeight),
		ModelHref: modelHref(project, dep.Model)}
	d.Title = "Deployment " + name
	d.Crumbs = projectCrumbs(project, crumb{"deployments", kindHref(project, "deployments")}, crumb{Label: name})
	d.Timeline = slices.Clone(events)
	slices.Reverse(d.Timeline)
	if dep.StableVersion > 0 {
		d.StableHref = versionHref(project, dep.Model, dep.StableVersion)
	}
	if dep.CanaryVersion > 0 {
		d.CanaryHref = versionHref(project, dep.Model, dep.CanaryVersion)
	}
	if dep.TargetVersion > 0 {
		d.TargetHref = versionHref(project, dep.Model, dep.TargetVersion)
	}
	// Environment values may be secrets: only their names are shown.
	for k := range dep.Runtime.Env {
		d.EnvNames = append(d.EnvNames, k)
	}
	sort.Strings(d.EnvNames)
	h.render(w, r, http.StatusOK, "deployment", d)
}
