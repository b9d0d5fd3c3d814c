/**
 * A deliberately broken miniature of the layers, for {@link dev.midlayer.layering.LayeringTest}: each class
 * breaks one layering rule, so that every rule is shown to fail. Never used by anything else.
 */
package dev.midlayer.layering.broken;
