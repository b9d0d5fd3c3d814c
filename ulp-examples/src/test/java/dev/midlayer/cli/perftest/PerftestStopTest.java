package dev.midlayer.cli.perftest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.cli.MidlayerCli;
import java.io.File;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * A perftest stopped while it measures, as Ctrl-C stops one: {@code send_bw -D 600} in a second JVM started from
 * the built classpath gets SIGTERM ({@link ProcessHandle#destroy}; SIGINT takes the same path) once its
 * progress line shows it is measuring. It completes what it posted, prints the row of what it measured, says so
 * on stderr and exits 128 + 15. No timing is asserted.
 */
class PerftestStopTest {
  private static final Pattern ROW = Pattern.compile("^ 64 +([1-9]\\d*) +[0-9.]+ +[0-9.]+ +[0-9.]+$", Pattern.MULTILINE);

  private Process perftest;

  @AfterEach
  void kill() throws Exception {
    if (perftest != null && perftest.isAlive()) {
      perftest.destroyForcibly();
      perftest.waitFor(30, TimeUnit.SECONDS);
    }
  }

  @Test
  @DisplayName("SIGTERM while send_bw -D measures: the row of what was measured, one line on stderr, exit 143")
  void aStopPrintsWhatWasMeasured() throws Exception {
    String java = System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
    perftest = new ProcessBuilder(java, "-D" + RunControl.PROGRESS_PROPERTY + "=true", "-cp",
        System.getProperty("java.class.path"), MidlayerCli.class.getName(), "perftest", "send_bw", "-s", "64",
        "-D", "600", "--warmup", "1000").start();
    StringBuffer out = new StringBuffer();
    StringBuffer err = new StringBuffer();
    BlockingQueue<String> measuring = new LinkedBlockingQueue<>();
    Thread outReader = drain(perftest.getInputStream(), out, null, null);
    Thread errReader = drain(perftest.getErrorStream(), err, "send_bw 64 B: ", measuring);

    assertNotNull(measuring.poll(120, TimeUnit.SECONDS), "a progress line within 120 s; stderr: " + err);
    // SIGTERM through the process handle: Process.destroy would also close our ends of its stdout and stderr.
    assertTrue(perftest.toHandle().destroy(), "SIGTERM sent");
    assertTrue(perftest.waitFor(60, TimeUnit.SECONDS), "perftest exited on SIGTERM");
    outReader.join(TimeUnit.SECONDS.toMillis(30));
    errReader.join(TimeUnit.SECONDS.toMillis(30));

    assertEquals(143, perftest.exitValue(), "stdout: " + out + "\nstderr: " + err);
    Matcher row = ROW.matcher(out);
    assertTrue(row.find(), "the row of what was measured; stdout: " + out + "\nstderr: " + err);
    assertTrue(Long.parseLong(row.group(1)) > 0, row.group());
    List<String> lines = err.toString().lines().map(l -> l.replaceAll("^.*\r", "").strip())
        .filter(l -> !l.isEmpty()).toList();
    assertEquals("perftest send_bw: stopped by SIGTERM; the rows above are what was measured (the last one up to "
        + "the stop)", lines.get(lines.size() - 1), err.toString());
  }

  /** Copies {@code in} into {@code text}; offers to {@code seen} once the text contains {@code marker}. */
  private static Thread drain(InputStream in, StringBuffer text, String marker, BlockingQueue<String> seen) {
    Thread t = new Thread(() -> {
      try (Reader r = new InputStreamReader(in, StandardCharsets.UTF_8)) {
        char[] buf = new char[4096];
        boolean offered = false;
        for (int n; (n = r.read(buf)) > 0; ) {
          text.append(buf, 0, n);
          if (!offered && marker != null && text.indexOf(marker) >= 0) {
            offered = seen.offer(marker);
          }
        }
      } catch (java.io.IOException gone) {
        // the process exited
      }
    }, "perftest-output");
    t.setDaemon(true);
    t.start();
    return t;
  }
}
