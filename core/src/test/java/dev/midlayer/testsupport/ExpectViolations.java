package dev.midlayer.testsupport;

import dev.midlayer.monitor.Check;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * A test (or class) that breaks a rule on purpose: violations of these checks do not fail it
 * ({@link MonitorVerdictExtension}). The test asserts what it provokes itself.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.METHOD, ElementType.TYPE})
public @interface ExpectViolations {
  Check[] value();
}
