/**
 * Context rules: {@link dev.midlayer.context.AtomicContext} marks threads that run midlayer callbacks,
 * and {@link dev.midlayer.context.ContextChecker} refuses may-sleep verbs there
 * ({@code midlayer.context-check}).
 */
package dev.midlayer.context;
