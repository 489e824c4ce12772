// How counts read in messages users see: "1 engine", "2 engines".

/** `count` and the noun, singular for one. */
export function plural(count: number, noun: string, nouns = `${noun}s`): string {
  return `${count} ${count === 1 ? noun : nouns}`;
}
