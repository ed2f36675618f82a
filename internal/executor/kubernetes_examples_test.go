package executor_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/kubernetes/scheme"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"

	"github.com/mlopsplane/terraform-provider-mlops/internal/executor"
)

const examplesDir = "../../examples/kubernetes"

// exampleObjects decodes every manifest of examples/kubernetes strictly, so a
// misspelt field or a wrong kind fails here rather than at kubectl apply.
func exampleObjects(t *testing.T) []runtime.Object {
	t.Helper()
	strict := json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme.Scheme, scheme.Scheme, json.SerializerOptions{Yaml: true, Strict: true})
	files, err := filepath.Glob(filepath.Join(examplesDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s: %v", examplesDir, err)
	}
	var objs []runtime.Object
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(b, []byte("\n---\n")) {
			obj, _, err := strict.Decode(doc, nil, nil)
			if err != nil {
				t.Fatalf("%s, document %d: %v", f, i+1, err)
			}
			objs = append(objs, obj)
		}
	}
	return objs
}

func TestKubernetesExampleManifests(t *testing.T) {
	objs := exampleObjects(t)

	// kustomization.yaml applies every manifest but the secret template.
	var kust struct{ Resources []string }
	b, err := os.ReadFile(filepath.Join(examplesDir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &kust); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(examplesDir, "*.yaml"))
	for _, f := range files {
		base := filepath.Base(f)
		if base != "kustomization.yaml" && base != "secret.example.yaml" && !slices.Contains(kust.Resources, base) {
			t.Errorf("kustomization.yaml does not apply %s", base)
		}
	}

	var role *rbacv1.Role
	var template *corev1.ConfigMap
	for _, o := range objs {
		switch o := o.(type) {
		case *rbacv1.Role:
			role = o
		case *corev1.ConfigMap:
			template = o
		}
	}
	if role == nil || template == nil {
		t.Fatal("the example has no Role or no pod template ConfigMap")
	}

	// The Role grants what the executor's preflight asks for.
	cs := fake.NewClientset()
	cs.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		r := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview).DeepCopy()
		r.Status.Allowed = allows(role, r.Spec.ResourceAttributes)
		return true, r, nil
	})
	if err := newKubernetes(t, cs).Preflight(t.Context()); err != nil {
		t.Errorf("with the example Role: %v", err)
	}

	// The pod template loads and the executor accepts it.
	path := filepath.Join(t.TempDir(), "pod-template.yaml")
	if err := os.WriteFile(path, []byte(template.Data["pod-template.yaml"]), 0o600); err != nil {
		t.Fatal(err)
	}
	tmpl, err := executor.LoadPodTemplate(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := executor.NewKubernetes(cs, executor.KubernetesConfig{Namespace: ns, PodTemplate: tmpl}); err != nil {
		t.Fatal(err)
	}
}

func allows(role *rbacv1.Role, ra *authorizationv1.ResourceAttributes) bool {
	resource := ra.Resource
	if ra.Subresource != "" {
		resource += "/" + ra.Subresource
	}
	for _, r := range role.Rules {
		if slices.Contains(r.APIGroups, ra.Group) && slices.Contains(r.Resources, resource) && slices.ContainsFunc(r.Verbs, func(v string) bool { return strings.EqualFold(v, ra.Verb) }) {
			return true
		}
	}
	return false
}
