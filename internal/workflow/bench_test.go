package workflow

import "testing"

func BenchmarkRenderTemplate(b *testing.B) {
	d := testData()
	const tmpl = `Classify {{.input.name}}: {{json .nodes.classify}} {{range .input.tags}}{{.}},{{end}}`
	for b.Loop() {
		if _, err := RenderTemplate(tmpl, d); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEvalCondition(b *testing.B) {
	env := testEnv()
	for b.Loop() {
		if _, err := EvalCondition(`nodes.classify.label == "urgent" && input.count > 1`, env); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidate(b *testing.B) {
	def := validDefinition()
	for b.Loop() {
		if p := Validate(def, Limits{}); len(p) != 0 {
			b.Fatal(p)
		}
	}
}
