package dev.midlayer.cli.perftest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class PeakMeterTest {
  private static final long MS = TimeUnit.MILLISECONDS.toNanos(1);

  @Test
  void aFastTailAfterTheLastIntervalCountsSoThePeakIsNeverBelowTheAverage() {
    PeakMeter m = PeakMeter.elapsed();
    m.start(0);
    m.sample(20 * MS, 100); // one slow interval: 5 per ms
    m.sample(21 * MS, 1000); // then a fast millisecond, shorter than an interval
    double average = 1000.0 / (21 * MS);
    assertTrue(m.peakRate() >= average, m.peakRate() + " < average " + average);
    assertEquals(average, m.peakRate(), 1e-12, "the last interval runs on to the latest sample");
  }

  @Test
  void thePeakIsTheBestInterval() {
    PeakMeter m = PeakMeter.elapsed();
    m.start(0);
    m.sample(20 * MS, 100);
    m.sample(40 * MS, 900); // the best: 40 per ms
    m.sample(60 * MS, 1000);
    m.sample(80 * MS, 1100);
    assertEquals(800.0 / (20 * MS), m.peakRate(), 1e-12);
  }

  @Test
  void shorterThanOneIntervalHasNoPeak() {
    PeakMeter m = PeakMeter.elapsed();
    m.start(0);
    m.sample(5 * MS, 100);
    assertEquals(0, m.peakRate());
    PerftestOutput row = PeakMeter.row("t", 64, 100, 1, 5 * MS, m.peakRate());
    assertEquals(row.get("bw_avg_mib_s"), row.get("bw_peak_mib_s"), "the average stands for the peak");
  }
}
