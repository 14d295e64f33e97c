package processor

import (
	"errors"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The engine is meant to be read from the top by a newcomer. These tests
// keep it that way: short functions, files that refer to each other one
// way only, and package imports that point down the pipeline.

func engineFiles(t *testing.T) (*token.FileSet, []*ast.File) {
	t.Helper()
	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, n, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return fset, files
}

func TestEngineFunctionsShort(t *testing.T) {
	fset, files := engineFiles(t)
	for _, f := range files {
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			lines := fset.Position(fn.End()).Line - fset.Position(fn.Pos()).Line + 1
			if lines > 80 {
				t.Errorf("%s: %s is %d lines; the engine keeps functions to 80", fset.Position(fn.Pos()), fn.Name.Name, lines)
			}
		}
	}
}

// TestEngineFilesReferOneWay: no two files of the engine use each other's
// declarations.
func TestEngineFilesReferOneWay(t *testing.T) {
	fset, files := engineFiles(t)
	info := &types.Info{Uses: map[*ast.Ident]types.Object{}}
	conf := types.Config{Importer: exportImporter(t, fset)}
	pkg, err := conf.Check("github.com/bounced-dev/bounced/processor", fset, files, info)
	if err != nil {
		t.Fatal(err)
	}
	refers := map[[2]string]bool{}
	for id, obj := range info.Uses {
		if obj.Pkg() != pkg || !obj.Pos().IsValid() {
			continue
		}
		from, to := fset.Position(id.Pos()).Filename, fset.Position(obj.Pos()).Filename
		if from != to {
			refers[[2]string{from, to}] = true
		}
	}
	var both []string
	for e := range refers {
		if e[0] < e[1] && refers[[2]string{e[1], e[0]}] {
			both = append(both, e[0]+" <-> "+e[1])
		}
	}
	slices.Sort(both)
	for _, b := range both {
		t.Errorf("files refer to each other: %s", b)
	}
}

// exportImporter imports the engine's dependencies from the export data
// the go command keeps in its build cache (type-checking them from source
// takes minutes).
func exportImporter(t *testing.T, fset *token.FileSet) types.Importer {
	t.Helper()
	out, err := exec.Command("go", "list", "-export", "-deps", "-f", "{{.ImportPath}} {{.Export}}", ".").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, ee.Stderr)
		}
		t.Fatalf("go list -export: %v", err)
	}
	exports := map[string]string{}
	for line := range strings.Lines(string(out)) {
		if path, file, ok := strings.Cut(strings.TrimSpace(line), " "); ok && file != "" {
			exports[path] = file
		}
	}
	return importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		file, ok := exports[path]
		if !ok {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(file)
	})
}

// TestImportsPointDown: the stage packages under processor/ never import
// the engine or anything above it, and the decision packages import no
// Kafka or ClickHouse client.
func TestImportsPointDown(t *testing.T) {
	const mod = "github.com/bounced-dev/bounced/"
	above := []string{mod + "cli", mod + "cmd/", mod + "sinks/", mod + "api", mod + "alerts", mod + "demo", mod + "config"}
	clients := []string{"github.com/segmentio/kafka-go", "github.com/twmb/franz-go", "github.com/ClickHouse/"}
	pure := []string{"decide", "guard", "streak", "classify", "event", "reply"}
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || path == "." || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || !strings.Contains(path, "/") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		stage := strings.SplitN(filepath.ToSlash(path), "/", 2)[0]
		for _, im := range f.Imports {
			p := strings.Trim(im.Path.Value, `"`)
			if p == mod+"processor" || slices.ContainsFunc(above, func(a string) bool { return strings.HasPrefix(p, a) }) {
				t.Errorf("%s imports %s, which sits above it", path, p)
			}
			if slices.Contains(pure, stage) {
				for _, c := range clients {
					if strings.HasPrefix(p, c) {
						t.Errorf("%s, a decision package, imports the client %s", path, p)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
