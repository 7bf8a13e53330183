using MlNetBert.Tokenization;

namespace MlNetBert.Tests.Data;

[TestClass]
public sealed class SlidingWindowsTests
{
    [TestMethod]
    public void Plan_SquadSizes_StartEvery253Tokens_AndTheLastEndsAtTheEnd()
    {
        // 381 context tokens per 384-token input with a 0-token question; stride 128 → step 253.
        CollectionAssert.AreEqual(
            new[] { new TokenWindow(0, 381), new TokenWindow(253, 381), new TokenWindow(506, 381), new TokenWindow(759, 241) },
            SlidingWindows.Plan(1_000, 381, 128));
    }

    [TestMethod]
    public void Plan_ShortSequence_IsOneWindow_AndEmptyIsOneEmptyWindow()
    {
        CollectionAssert.AreEqual(new[] { new TokenWindow(0, 5) }, SlidingWindows.Plan(5, 10, 3));
        CollectionAssert.AreEqual(new[] { new TokenWindow(0, 10) }, SlidingWindows.Plan(10, 10, 3));
        CollectionAssert.AreEqual(new[] { new TokenWindow(0, 0) }, SlidingWindows.Plan(0, 10, 3));
    }

    [TestMethod]
    public void Plan_CoversEveryToken_AndConsecutiveWindowsShareExactlyStrideTokens()
    {
        for (int n = 1; n <= 60; n++)
        {
            for (int max = 1; max <= 12; max++)
            {
                for (int stride = 0; stride < max; stride++)
                {
                    var windows = SlidingWindows.Plan(n, max, stride);
                    string what = $"n={n} max={max} stride={stride}";
                    Assert.AreEqual(0, windows[0].Start, what);
                    Assert.AreEqual(n, windows[^1].End, what);
                    for (int w = 0; w < windows.Length; w++)
                    {
                        Assert.IsTrue(windows[w].Length is > 0 && windows[w].Length <= max, what);
                        if (w < windows.Length - 1)
                        {
                            Assert.AreEqual(max, windows[w].Length, what);
                            Assert.AreEqual(stride, windows[w].End - windows[w + 1].Start, what);
                        }
                    }
                    for (int t = 0; t < n; t++)
                        Assert.IsTrue(windows.Any(w => w.Contains(t)), $"{what}: token {t}");
                }
            }
        }
    }

    [TestMethod]
    public void Plan_StrideNotBelowWindow_IsRejected()
    {
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => SlidingWindows.Plan(100, 10, 10));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => SlidingWindows.Plan(100, 10, -1));
    }

    [TestMethod]
    public void MostContextWindow_TwoWindows_SwitchWhereRightContextRunsOut()
    {
        // Windows [0,6) and [4,10). Token 4: min(4,1)=1 in the first, min(0,5)=0 in the second → first.
        // Token 5: min(5,0)=0 in the first, min(1,4)=1 in the second → second.
        var windows = SlidingWindows.Plan(10, 6, 2);
        CollectionAssert.AreEqual(new[] { new TokenWindow(0, 6), new TokenWindow(4, 6) }, windows);
        CollectionAssert.AreEqual(new[] { 0, 0, 0, 0, 0, 1, 1, 1, 1, 1 }, SlidingWindows.MostContextWindow(windows, 10));
    }

    [TestMethod]
    public void MostContextWindow_ThreeWindows_TiesBetweenEqualWindowsGoToTheEarlierOne()
    {
        // Windows [0,6), [3,9), [6,12). Token 4: min(4,1)=1 vs min(1,4)=1 → tie → earlier. Token 7: min(4,1)=1 vs min(1,4)=1 → tie → earlier.
        var windows = SlidingWindows.Plan(12, 6, 3);
        CollectionAssert.AreEqual(new[] { new TokenWindow(0, 6), new TokenWindow(3, 6), new TokenWindow(6, 6) }, windows);
        CollectionAssert.AreEqual(new[] { 0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2 }, SlidingWindows.MostContextWindow(windows, 12));
    }

    [TestMethod]
    public void MostContextWindow_TieGoesToTheLongerWindow()
    {
        // Token 2: min(2,1)=1 in [0,4) and min(1,4)=1 in [1,7) → tie → the longer, later window.
        TokenWindow[] windows = [new(0, 4), new(1, 6)];
        CollectionAssert.AreEqual(new[] { 0, 0, 1, 1, 1, 1, 1 }, SlidingWindows.MostContextWindow(windows, 7));
    }
}
