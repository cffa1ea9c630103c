// kstatus prints the kstatus of each Kubernetes object given on stdin, as computed by the upstream
// library (sigs.k8s.io/cli-utils/pkg/kstatus/status.Compute), one JSON line per object:
//
//	{"kind":"ChittyService","name":"web","status":"Current","message":"Resource is Ready"}
//
// Stdin holds one object or a List of them (what `kubectl get -o json|yaml` prints), as JSON or YAML.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/yaml"
)

type verdict struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "kstatus: %v\n", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	raw, err := io.ReadAll(in)
	if err != nil {
		return fmt.Errorf("reading stdin: %w", err)
	}
	// Numbers decode as the apiserver's clients decode them: integers as int64, which kstatus needs
	// for generation and observedGeneration.
	var doc map[string]any
	asJSON, err := yaml.YAMLToJSON(raw)
	if err == nil {
		err = utiljson.Unmarshal(asJSON, &doc)
	}
	if err != nil || doc == nil {
		return fmt.Errorf("stdin is not a Kubernetes object or List as JSON or YAML")
	}
	objects := []map[string]any{doc}
	if items, isList := doc["items"].([]any); isList {
		objects = objects[:0]
		for i, item := range items {
			object, ok := item.(map[string]any)
			if !ok {
				return fmt.Errorf("items[%d] is not an object", i)
			}
			objects = append(objects, object)
		}
	}
	encoder := json.NewEncoder(out)
	for _, object := range objects {
		u := &unstructured.Unstructured{Object: object}
		result, err := status.Compute(u)
		if err != nil {
			return fmt.Errorf("%s %s: %w", u.GetKind(), u.GetName(), err)
		}
		v := verdict{Kind: u.GetKind(), Name: u.GetName(), Status: string(result.Status), Message: result.Message}
		if err := encoder.Encode(v); err != nil {
			return err
		}
	}
	return nil
}
