import pytest

from tamtam.segments import analyse


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", "GSM-7", 0, 0),
        ("Hello", "GSM-7", 5, 1),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),  # 153 per part once split
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),  # extension table: two septets each
        ("€" * 81, "GSM-7", 162, 2),
        ("Bonjour, votre code: é à ù", "GSM-7", 26, 1),
        ("ç" * 70, "UCS-2", 70, 1),  # lower-case ç is not in GSM 03.38
        ("ç" * 71, "UCS-2", 71, 2),
        ("😀" * 35, "UCS-2", 70, 1),  # an emoji is two UTF-16 units
        ("😀" * 36, "UCS-2", 72, 2),
        ("ç" * 134, "UCS-2", 134, 2),
        ("ç" * 135, "UCS-2", 135, 3),
    ],
)
def test_given_text_when_analysed_then_encoding_and_segments_match_the_sms_rules(text, encoding, units, segments):
    info = analyse(text)
    assert (info.encoding, info.units, info.segments) == (encoding, units, segments)
