package dev.midlayer.cli.perftest;

import picocli.CommandLine.Option;

/** perftest's {@code -l}: the verbs bandwidth tests post their WRs as lists. */
final class PostListOptions {
  @Option(names = {"-l", "--post-list"}, defaultValue = "1", paramLabel = "WRS",
      description = "Post up to this many WRs with one postSend call, as a list (perftest's post list; 1..-t; "
          + "default ${DEFAULT-VALUE}).")
  int postList;
}
