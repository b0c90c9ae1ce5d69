package registry_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/registry"
)

// validCatalog is the smallest catalog that loads. Each refusal case below
// changes one thing in it, so its line numbers are stable:
//
//	1 version        7 platform pattern    12 runtimes
//	2 default_runtime 8 acme name         13 rt name
//	3 default_model   9 acme auth_env      14 arms
//	4 providers      10 acme pattern       15 platform arm
//	5 platform name  11 (blank)            16 platform models
//	6 platform auth                        17 acme arm (open)
const validCatalog = `version: 1
default_runtime: rt
default_model: platform/m
providers:
  - name: platform
    auth_env: [PLATFORM_TOKEN]
    pattern: '^platform/'
  - name: acme
    auth_env: [ACME_KEY, ACME_TOKEN]
    pattern: '(?i)^acme[:/]'

runtimes:
  - name: rt
    arms:
      - provider: platform
        models: [platform/m, platform/n]
      - provider: acme
`

func TestLoad_ValidCatalogLoads(t *testing.T) {
	t.Parallel()
	c, err := registry.Load([]byte(validCatalog), "catalog.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if d, err := c.Derive("rt", "ACME/thing", nil); err != nil || d.Provider.Name != "acme" {
		t.Errorf("Derive(rt, ACME/thing) = %+v, %v; want acme", d, err)
	}
	p, _ := c.Provider("acme")
	if p.DisplayName != "acme" {
		t.Errorf("DisplayName = %q, want the name when the catalog gives none", p.DisplayName)
	}
}

// A name of MaxNameBytes loads and can be asked for: the limit refuses
// only names no caller could name (a longer one is unknown to every tool).
func TestLoad_NamesUpToTheLimitLoad(t *testing.T) {
	t.Parallel()
	provider, runtime := strings.Repeat("a", registry.MaxNameBytes), strings.Repeat("r", registry.MaxNameBytes)
	data := strings.NewReplacer("name: acme", "name: "+provider, "provider: acme", "provider: "+provider,
		"name: rt", "name: "+runtime, "default_runtime: rt", "default_runtime: "+runtime).Replace(validCatalog)
	c, err := registry.Load([]byte(data), "catalog.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if d, err := c.Derive(runtime, "acme/x", nil); err != nil || d.Provider.Name != provider {
		t.Errorf("Derive on the %d-byte names = %+v, %v", registry.MaxNameBytes, d, err)
	}
}

func TestLoad_Refusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		old     string // replaced in validCatalog (first occurrence)
		new     string
		wantErr []string // substrings of the error
	}{
		{name: "UnknownSchemaVersion", old: "version: 1", new: "version: 2",
			wantErr: []string{"catalog.yaml:1:", "unknown schema version 2"}},
		{name: "MissingSchemaVersion", old: "version: 1\n", new: "",
			wantErr: []string{"catalog.yaml:", "missing schema version"}},
		{name: "UnknownTopLevelField", old: "version: 1", new: "version: 1\nextra: true",
			wantErr: []string{"catalog.yaml:2:", `unknown field "extra"`}},
		{name: "UnknownProviderField", old: "    pattern: '^platform/'", new: "    pattern: '^platform/'\n    billing: platform",
			wantErr: []string{"catalog.yaml:8:", `unknown field "billing"`}},
		{name: "UnknownArmField", old: "      - provider: acme", new: "      - provider: acme\n        weight: 2",
			wantErr: []string{"catalog.yaml:18:", `unknown field "weight"`}},
		{name: "MalformedYAML", old: "    auth_env: [ACME_KEY, ACME_TOKEN]", new: "    auth_env: [ACME_KEY",
			wantErr: []string{"catalog.yaml:"}},
		{name: "WrongType", old: "version: 1", new: "version: one",
			wantErr: []string{"catalog.yaml:1:", "cannot unmarshal"}},
		{name: "NoProviders", old: validCatalog[strings.Index(validCatalog, "providers:"):strings.Index(validCatalog, "\nruntimes:")], new: "providers: []\n",
			wantErr: []string{"catalog.yaml:4:", "no providers"}},
		{name: "ProviderWithoutName", old: "  - name: acme\n", new: "  - display_name: Acme\n",
			wantErr: []string{"catalog.yaml:8:", "provider #2: missing name"}},
		{name: "ProviderWithoutAuthEnv", old: "    auth_env: [ACME_KEY, ACME_TOKEN]\n", new: "",
			wantErr: []string{"catalog.yaml:8:", `provider "acme": missing auth_env`}},
		{name: "ProviderWithEmptyAuthEnv", old: "[ACME_KEY, ACME_TOKEN]", new: "[]",
			wantErr: []string{"catalog.yaml:8:", `provider "acme": missing auth_env`}},
		{name: "AuthEnvNameNotAnEnvName", old: "ACME_TOKEN", new: "acme-token",
			wantErr: []string{"catalog.yaml:9:", `provider "acme": auth_env name "acme-token" is not an environment variable name`}},
		{name: "ProviderWithoutPattern", old: "    pattern: '(?i)^acme[:/]'\n", new: "",
			wantErr: []string{"catalog.yaml:8:", `provider "acme": missing pattern`}},
		{name: "PatternDoesNotCompile", old: "'(?i)^acme[:/]'", new: "'^acme('",
			wantErr: []string{"catalog.yaml:10:", `provider "acme": pattern "^acme(": error parsing regexp`}},
		{name: "PatternNotAnchored", old: "'(?i)^acme[:/]'", new: "'acme/'",
			wantErr: []string{"catalog.yaml:10:", `provider "acme": pattern "acme/" is not anchored`}},
		{name: "PatternAlternativeEscapesAnchor", old: "'(?i)^acme[:/]'", new: "'^acme/|acme:'",
			wantErr: []string{"catalog.yaml:10:", "is not anchored"}},
		{name: "PatternMultiLineAnchor", old: "'(?i)^acme[:/]'", new: "'(?m)^acme/'",
			wantErr: []string{"catalog.yaml:10:", "is not anchored"}},
		{name: "ProviderNameTooLong", old: "  - name: acme\n", new: "  - name: " + strings.Repeat("a", registry.MaxNameBytes+1) + "\n",
			wantErr: []string{"catalog.yaml:8:", "name longer than 64 bytes (65)"}},
		{name: "RuntimeNameTooLong", old: "  - name: rt\n", new: "  - name: " + strings.Repeat("r", registry.MaxNameBytes+1) + "\n",
			wantErr: []string{"catalog.yaml:13:", "name longer than 64 bytes (65)"}},
		{name: "DuplicateProvider", old: "  - name: acme", new: "  - name: platform",
			wantErr: []string{"catalog.yaml:8:", `provider "platform" is declared twice (first at line 5)`}},
		{name: "NoRuntimes", old: validCatalog[strings.Index(validCatalog, "runtimes:"):], new: "runtimes: []\n",
			wantErr: []string{"catalog.yaml:12:", "no runtimes"}},
		{name: "MissingRuntimes", old: validCatalog[strings.Index(validCatalog, "runtimes:"):], new: "",
			wantErr: []string{"catalog.yaml:", "no runtimes"}},
		{name: "RuntimeWithoutName", old: "  - name: rt\n    arms:", new: "  - arms:",
			wantErr: []string{"catalog.yaml:13:", "runtime #1: missing name"}},
		{name: "RuntimeWithoutArms", old: validCatalog[strings.Index(validCatalog, "    arms:"):], new: "    arms: []\n",
			wantErr: []string{"catalog.yaml:13:", `runtime "rt": no arms`}},
		{name: "RuntimeNamesUnknownProvider", old: "      - provider: acme", new: "      - provider: acme-corp",
			wantErr: []string{"catalog.yaml:17:", `runtime "rt": arm 2: unknown provider "acme-corp"`}},
		{name: "ArmWithoutProvider", old: "      - provider: acme", new: "      - models: [acme/x]",
			wantErr: []string{"catalog.yaml:17:", `runtime "rt": arm 2: missing provider`}},
		{name: "RuntimeNamesProviderTwice", old: "      - provider: acme", new: "      - provider: platform",
			wantErr: []string{"catalog.yaml:17:", `runtime "rt": provider "platform" has two arms (1 and 2)`}},
		{name: "IdListedTwiceOnOneArm", old: "[platform/m, platform/n]", new: "[platform/m, platform/n,\n                 platform/m]",
			wantErr: []string{"catalog.yaml:17:", `runtime "rt": arm 1 (platform): model "platform/m" is listed twice`}},
		{name: "IdPaddedWithSpaces", old: "platform/n]", new: "' platform/n']",
			wantErr: []string{"catalog.yaml:16:", `model id " platform/n" is empty or padded with spaces`}},
		{name: "DuplicateRuntime", old: validCatalog[strings.Index(validCatalog, "runtimes:"):], new: "runtimes:\n  - name: rt\n    arms: [{provider: acme}]\n  - name: rt\n    arms: [{provider: acme}]\n",
			wantErr: []string{"catalog.yaml:15:", `runtime "rt" is declared twice (first at line 13)`}},
		{name: "UnknownDefaultRuntime", old: "default_runtime: rt", new: "default_runtime: langgraph",
			wantErr: []string{"catalog.yaml:2:", `default_runtime "langgraph" is not a runtime of this catalog (runtimes: rt)`}},
		{name: "MissingDefaultRuntime", old: "default_runtime: rt\n", new: "",
			wantErr: []string{"catalog.yaml:", "missing default_runtime"}},
		{name: "MissingDefaultModel", old: "default_model: platform/m\n", new: "",
			wantErr: []string{"catalog.yaml:", "missing default_model"}},
		{name: "DefaultModelIsBYOK", old: "default_model: platform/m", new: "default_model: acme/m",
			wantErr: []string{"catalog.yaml:3:", `default_model "acme/m" is not platform-billed on default runtime "rt": it derives to provider "acme"`}},
		{name: "DefaultModelUnregistered", old: "default_model: platform/m", new: "default_model: platform/unlisted",
			wantErr: []string{"catalog.yaml:3:", `default_model "platform/unlisted" is not platform-billed`, modelgate.EUnregisteredModel}},
		{name: "EmptyDocument", old: validCatalog, new: "",
			wantErr: []string{"catalog.yaml: empty catalog"}},
		{name: "TwoDocuments", old: validCatalog, new: validCatalog + "---\nversion: 1\n",
			wantErr: []string{"catalog.yaml:", "more than one YAML document"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if !strings.Contains(validCatalog, tc.old) {
				t.Fatalf("test case does not apply: %q is not in validCatalog", tc.old)
			}
			data := strings.Replace(validCatalog, tc.old, tc.new, 1)
			c, err := registry.Load([]byte(data), "catalog.yaml")
			if err == nil {
				t.Fatalf("Load succeeded (%v); want an error containing %q\n%s", c != nil, tc.wantErr, data)
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			if code := modelgate.ErrorCode(err); code != modelgate.EInternal {
				t.Errorf("loader error has code %s; loader errors are plain, not coded", code)
			}
		})
	}
}

func TestLoadFile_NamesThePath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte(validCatalog), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := registry.LoadFile(good); err != nil {
		t.Errorf("LoadFile(good): %v", err)
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte(strings.Replace(validCatalog, "version: 1", "version: 9", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := registry.LoadFile(bad); err == nil || !strings.Contains(err.Error(), bad+":1:") {
		t.Errorf("LoadFile(bad) = %v, want an error naming %s:1", err, bad)
	}

	missing := filepath.Join(dir, "missing.yaml")
	if _, err := registry.LoadFile(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("LoadFile(missing) = %v, want an error naming the path", err)
	}
}
