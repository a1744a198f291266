import matplotlib.pyplot as plt
import numpy as np

fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
fruits = ['Apples', 'Pears', 'Plums']
x = np.arange(len(fruits))
ax.bar(x - 0.2, [5, 7, 3], 0.4, color='#2ca02c', label='2022')
ax.bar(x + 0.2, [3, 6, 5], 0.4, color='#d62728', label='2023')
ax.set_xticks(x)
ax.set_xticklabels(fruits)
ax.set_title('Fruit sales')
ax.set_ylabel('Tonnes')
ax.legend(loc='upper left')
