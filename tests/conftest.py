"""pytest runs absltest cases without absltest.main(): parse absl flags once
(defaults) so absltest helpers such as create_tempdir() work."""

from absl import flags

if not flags.FLAGS.is_parsed():
  flags.FLAGS.mark_as_parsed()
