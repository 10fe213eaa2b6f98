/** The models the llm form offers: the built-in offline mock models. */
export function useModels(): string[] {
  return ['mock:echo'];
}
