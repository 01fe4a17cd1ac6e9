# Word and bigram frequencies over a text file, then the top entries sorted.
my (%words, %pairs);
while (my $line = <>) {
    $line =~ s/\s+/ /g;
    my @w = map { lc } ($line =~ /([A-Za-z_]\w*)/g);
    $words{$_}++ for @w;
    $pairs{"$w[$_] $w[$_ + 1]"}++ for 0 .. $#w - 1;
}
my @top = (sort { $words{$b} <=> $words{$a} || $a cmp $b } keys %words)[0 .. 9];
print "$words{$_} $_\n" for @top;
printf "%d words, %d pairs\n", scalar(keys %words), scalar(keys %pairs);
