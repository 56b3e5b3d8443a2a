/**
 * Word count: a bounded text file → split into words → count per word → results back to the client.
 *
 *   npm start                                   (embedded cluster, this file on examples/data/words.txt)
 *   riffle run -p 2 examples/word-count.ts --input examples/data/words.txt
 *
 * Counts are rolling, as in a Flink streaming job: every word's count is emitted each time it grows,
 * so the last line printed for a word holds its total.
 */
import type { StreamExecutionEnvironment } from "@riffle/sdk";

export interface WordCount {
  word: string;
  count: number;
}

export default function wordCount(env: StreamExecutionEnvironment): void {
  env
    .readTextFile(env.param("input", "examples/data/words.txt"))
    .name("lines")
    .flatMap((line: string) =>
      line
        .toLowerCase()
        .split(/[^\p{L}\p{N}']+/u)
        .filter((w) => w.length > 0),
    )
    .name("split")
    .map((word): WordCount => ({ word, count: 1 }))
    .keyBy((wc) => wc.word)
    .sum("count")
    .name("count")
    .uid("word-counts")
    .collect();
}
